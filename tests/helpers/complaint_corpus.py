"""A seeded synthetic corpus of Chinese complaints: organised templates and genuine ones.

No real complaint is in the repository. Organised groups (代理维权, 反催收 agents)
are simulated the way the seed article describes them: one template per group,
sent by many "clients" to several institutions and channels, each copy with the
edits such groups make — other names, ID and phone numbers, amounts, dates and
product names, synonyms, sentences reordered, added or dropped, punctuation and
spacing. Genuine complaints are written from the *same* vocabulary: the same
products, the same grievances and the same stock demands ("要求退还全部费用"), so
they share wording by chance, which is what makes precision hard.

`generate(seed, groups, copies, genuine)` is deterministic for a seed; every
complaint carries its ground truth (`group` is None for a genuine one).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

PRODUCTS: dict[str, list[str]] = {
    "loan": ["随心贷", "闪电贷", "安居消费贷", "工薪贷", "极速现金贷", "易分期"],
    "insurance": ["安心保终身寿险", "康顺重疾险", "金福年金保险", "百万医疗险", "意外伤害险"],
    "card": ["白金信用卡", "金卡", "联名信用卡", "青春卡", "车主信用卡"],
    "wealth": ["稳盈理财30天", "鑫享理财", "安盈固收", "天天宝", "睿远净值型理财"],
}
CHANNELS = ["12378", "12315", "金融监管总局热线", "人民银行", "黑猫投诉", "微博", "地方金融局"]
DEMANDS = ["退还费用", "减免息费", "停止催收", "赔偿损失", "解除合同", "消除征信记录"]
COMPANIES = ["某某银行", "某某消费金融公司", "某某人寿", "某某财险", "某某信托", "某某小贷公司"]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬燕彬鑫浩宇轩"
    "然辰博文凯斌建国建华志强晓东海燕春梅秋菊冬梅丹丹婷婷佳怡子涵梓萱"
)

SYNONYMS: list[tuple[str, ...]] = [
    ("贵公司", "你们公司", "该公司", "你司"),
    ("要求", "请求", "希望", "强烈要求"),
    ("退还", "退回", "返还", "退回给我"),
    ("全部", "所有", "全额"),
    ("费用", "款项", "钱款"),
    ("立即", "马上", "尽快", "立刻"),
    ("违规", "违法", "不合规"),
    ("诱导", "欺骗", "误导"),
    ("本人", "我"),
    ("严重", "极其", "非常"),
    ("投诉", "举报", "反映"),
    ("工作人员", "业务员", "客户经理", "销售人员"),
    ("处理", "解决", "答复"),
    ("损失", "经济损失", "损害"),
]

# Organised templates are built from these stock parts, so two groups' templates
# share vocabulary but not their sentence sequence.
ORG_OPENINGS = [
    "本人{name}，身份证号{id}，联系电话{phone}，现就{company}{product}一事进行{complaint}。",
    "{complaint}人{name}，证件号码{id}，手机{phone}，{complaint}{company}在办理{product}过程中的{violation}行为。",
    "我是{company}的客户{name}，身份证{id}，电话{phone}，今天实名{complaint}{product}。",
    "{complaint}对象：{company}。{complaint}人：{name}，身份证号码{id}，联系方式{phone}。",
]
# A claim is a lead-in, a grievance and a consequence; a template fixes one of each
# per sentence, so two groups that make the same grievance still word it apart.
ORG_LEADS = [
    "{date}，", "经本人了解，", "事实如下：", "需要指出的是，", "据本人核实，", "另外，",
    "更为严重的是，", "本人发现，", "经查，", "在此期间，", "众所周知，", "截至目前，",
]
ORG_GRIEVANCES = [
    "{company}{staff}以{bait}为由{mislead}本人办理{product}，金额{amount}元",
    "{product}年化利率远超国家规定的百分之二十四，属于{violation}放贷",
    "{staff}在销售时承诺{bait}，实际却收取{hidden}共计{amount}元",
    "{company}在未经本人同意的情况下擅自扣款{amount}元",
    "{company}委托的第三方催收人员多次辱骂威胁本人及家人",
    "本人多次致电客服要求{refund}{fee}，均被推诿",
    "{product}的{hidden}从未在合同中明确列示",
    "{company}将本人的逾期信息泄露给通讯录联系人",
    "{staff}冒用本人名义签署了{product}合同",
    "本人签字时{staff}未做任何风险提示和说明",
    "{company}强制捆绑销售{hidden}，不买就不放款",
    "{company}在本人还清欠款后仍然上报逾期记录",
    "{staff}夸大{product}收益，隐瞒了亏损风险",
    "{company}拒绝出具{product}的还款明细和合同原件",
]
ORG_CONSEQUENCES = [
    "，侵犯了本人的财产权和知情权。", "，明显存在虚假宣传。", "，合同条款显失公平。",
    "，已构成{violation}。", "，给本人造成了巨大的{loss}。", "，严重影响本人及家人的正常生活。",
    "，至今没有任何{handle}结果。", "，违反了消费者权益保护法的相关规定。",
    "，本人征信因此受到影响，无法正常办理房贷车贷。", "，律师认为{company}应当承担全部责任。",
]
ORG_DEMANDS = [
    "现{demand}{company}{now}{refund}{all}{fee}{amount}元，并书面道歉。",
    "{demand}{company}在三个工作日内给出书面答复，否则本人将向媒体曝光并提起诉讼。",
    "{demand}{now}停止一切催收行为，{refund}已收取的{hidden}，并消除不良征信记录。",
    "如{company}不予{handle}，本人将继续向监管部门和法院维权，直至问题解决。",
    "望监管部门{now}介入调查，责令{company}{refund}本人{all}{fee}并赔偿{loss}。",
]
# What genuine customers write: the same products and grievances in their own words,
# composed from small parts so that two customers rarely share a whole sentence.
GEN_WHEN = ["我在{date}", "前几天我", "去年我", "{date}那天我", "上个月我", "我之前", "今年初我",
            "我妈妈", "我爱人", "我"]
GEN_EVENTS = [
    "办了{company}的{product}", "在手机上申请了{product}", "去网点咨询{product}",
    "接到{company}的电话推销{product}", "还清了{product}的欠款", "想注销{product}",
    "收到{company}的短信", "发现卡里少了{amount}元", "申请{product}理赔", "买了{product}",
    "被扣了{amount}元{hidden}", "想提前还{product}",
]
GEN_TURNS = [
    "，当时说好的{bait}", "，结果一直没有下文", "，后来才知道要收{hidden}", "，客服说系统问题",
    "，对方让我等通知", "，到现在也没人联系我", "，说是合同里写了", "，营业厅让我找客服",
    "，客服又让我去营业厅", "，对方态度特别差", "，每次打电话都转来转去", "，说要扣违约金",
    "，材料交了三次还说不全", "，额度突然降了", "，征信上多了一条逾期",
]
GEN_FEELINGS = [
    "，我觉得不合理。", "，心里很着急。", "，真的很无奈。", "，不知道该怎么办。", "。",
    "，耽误了我很多时间。", "，家里人都很担心。", "，感觉被骗了。", "，实在没办法才来投诉。",
    "，希望有人管一管。", "，这样做对吗？", "，我很生气。",
]
GEN_DETAILS = [
    "那天是在{place}的网点办的，", "经办的是一位姓{surname}的{staff}，", "我当时问了三遍，",
    "我手机里还有通话录音，", "合同我拍了照片，", "我的工资卡就在这家银行，",
    "我一直是老客户了，", "我在外地打工，来回一趟不容易，", "孩子马上要交学费，",
    "我{age}岁了，不太会用手机，", "我专门请了半天假过去，", "短信里写的和电话里说的不一样，",
    "APP上的页面后来改了，", "排了一个多小时的队，", "客服工号是{digits}，",
    "第二天我又打了一次，", "我把截图都保存了，", "当时旁边还有我朋友在，",
]
GEN_PLACES = ["朝阳区", "浦东新区", "天河区", "武侯区", "西湖区", "南山区", "江汉区", "鼓楼区",
              "高新区", "开发区", "城南", "老城区", "县城", "镇上"]
GEN_ASKS = [
    "希望{company}能给我一个合理的解释。", "请帮我查一下到底是怎么回事。",
    "要求退还全部费用。", "希望能尽快处理，谢谢。", "请监管部门帮忙协调一下。",
    "我只想把钱要回来。", "希望以后不要再打扰我的家人。", "麻烦给个说法。",
]
BAITS = ["零利息", "免手续费", "保本保息", "随时可退", "提额", "低息分期", "送礼品"]
HIDDEN = ["服务费", "担保费", "会员费", "保险费", "手续费", "咨询费", "砍头息"]


@dataclass(frozen=True)
class Complaint:
    """One generated complaint and its ground truth."""

    id: int
    text: str
    product: str
    channel: str
    demand: str
    institution: int
    group: int | None
    """The organised group whose template this copies; None for a genuine complaint."""
    day: int
    phone: str
    id_number: str


def _id_number(rng: random.Random) -> str:
    """A well-formed (checksummed) mainland ID number, random and fictitious."""
    area = rng.choice(["110101", "110105", "310104", "440305", "510107", "330106", "420106"])
    birth = f"{rng.randrange(1955, 2004)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    body = area + birth + f"{rng.randrange(1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10):01d}{rng.randrange(10**8):08d}"


def _slots(rng: random.Random, category: str) -> dict[str, str]:
    amount = rng.choice([f"{rng.randrange(1000, 200000)}",
                         f"{rng.randrange(100, 9999)}.{rng.randrange(100):02d}"])
    return {
        "name": rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
        "id": _id_number(rng),
        "phone": _phone(rng),
        "amount": amount,
        "date": f"{rng.randrange(2023, 2027)}年{rng.randrange(1, 13)}月{rng.randrange(1, 29)}日",
        "product": rng.choice(PRODUCTS[category]),
        "company": rng.choice(COMPANIES),
        "bait": rng.choice(BAITS),
        "hidden": rng.choice(HIDDEN),
    }


# The words a template's {placeholders} stand for when they are not personal data:
# the template fixes the first choice, copies may swap in a synonym.
_WORD_SLOTS = {
    "complaint": 10, "violation": 6, "mislead": 7, "staff": 11, "handle": 12,
    "refund": 2, "all": 3, "fee": 4, "now": 5, "demand": 1, "loss": 13,
}


def _words(rng: random.Random) -> dict[str, str]:
    """Word-slot fillers: a random synonym for each."""
    return {slot: rng.choice(SYNONYMS[i]) for slot, i in _WORD_SLOTS.items()}


def _fill(template: str, values: dict[str, str]) -> str:
    return template.format_map(values)


def _punctuate(rng: random.Random, text: str) -> str:
    """Punctuation and spacing edits: what normalisation must see through."""
    swaps = {"，": rng.choice(["，", ",", "、", " "]), "。": rng.choice(["。", ".", "！", "；"])}
    out = "".join(swaps.get(ch, ch) for ch in text)
    if rng.random() < 0.3:
        out = out.replace("元", " 元 ")
    return out


def _claim(rng: random.Random) -> str:
    return rng.choice(ORG_LEADS) + rng.choice(ORG_GRIEVANCES) + rng.choice(ORG_CONSEQUENCES)


def _template(rng: random.Random) -> list[str]:
    """A group's template: opening, 3-5 claims, 1-2 demands, in a fixed order."""
    return ([rng.choice(ORG_OPENINGS)] + [_claim(rng) for _ in range(rng.randrange(3, 6))]
            + rng.sample(ORG_DEMANDS, rng.randrange(1, 3)))


def _copy(rng: random.Random, template: list[str], words: dict[str, str],
          category: str) -> str:
    """One copy of a template as an agent's client would send it."""
    sentences = list(template)
    if len(sentences) > 4 and rng.random() < 0.35:
        del sentences[rng.randrange(1, len(sentences))]
    if rng.random() < 0.35:
        sentences.insert(rng.randrange(1, len(sentences) + 1), _claim(rng))
    if rng.random() < 0.5:
        i, j = rng.sample(range(1, len(sentences)), 2)
        sentences[i], sentences[j] = sentences[j], sentences[i]
    values = _slots(rng, category)
    # Each copy keeps most of the template's wording and swaps some words for synonyms.
    local = {k: (rng.choice(SYNONYMS[_WORD_SLOTS[k]]) if rng.random() < 0.3 else v)
             for k, v in words.items()}
    values.update(local)
    return _punctuate(rng, "".join(_fill(s, values) for s in sentences))


def _genuine(rng: random.Random, category: str) -> str:
    """A genuine complaint: a customer's own story, sometimes with a stock demand."""
    values = _slots(rng, category)
    values.update(_words(rng))
    values.update(place=rng.choice(GEN_PLACES), surname=rng.choice(SURNAMES),
                  age=str(rng.randrange(23, 78)), digits=str(rng.randrange(1000, 99999)))
    parts = [(rng.choice(GEN_DETAILS) if rng.random() < 0.5 else "") + rng.choice(GEN_WHEN)
             + rng.choice(GEN_EVENTS) + rng.choice(GEN_TURNS) + rng.choice(GEN_FEELINGS)
             for _ in range(rng.randrange(3, 7))]
    if rng.random() < 0.6:
        parts.append(rng.choice(GEN_ASKS))
    if rng.random() < 0.25:  # some genuine customers copy one stock sentence they read online
        parts.append(rng.choice([_claim(rng), rng.choice(ORG_DEMANDS)]))
    return _punctuate(rng, "".join(_fill(p, values) for p in parts))


def generate(seed: int = 17, groups: int = 40, copies: int = 25, genuine: int = 3000,
             institutions: int = 12, days: int = 60) -> list[Complaint]:
    """A shuffled corpus: `groups` templates of ~`copies` copies each, plus `genuine` others."""
    rng = random.Random(seed)
    out: list[Complaint] = []
    for g in range(groups):
        category = rng.choice(list(PRODUCTS))
        template = _template(rng)
        words = _words(rng)
        start = rng.randrange(days - 10)
        targets = rng.sample(range(institutions), rng.randrange(2, min(6, institutions) + 1))
        demand = rng.choice(DEMANDS)
        for _ in range(max(2, int(rng.gauss(copies, copies / 4)))):
            out.append(Complaint(0, _copy(rng, template, words, category), category,
                                 rng.choice(CHANNELS), demand, rng.choice(targets), g,
                                 start + int(rng.expovariate(0.5)) % 10, _phone(rng),
                                 _id_number(rng)))
    for _ in range(genuine):
        category = rng.choice(list(PRODUCTS))
        out.append(Complaint(0, _genuine(rng, category), category, rng.choice(CHANNELS),
                             rng.choice(DEMANDS), rng.randrange(institutions), None,
                             rng.randrange(days), _phone(rng), _id_number(rng)))
    rng.shuffle(out)
    return [replace(c, id=i) for i, c in enumerate(out)]
