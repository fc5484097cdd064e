"""Plug-in point for `lianfang-hub` subcommands owned by other parts of the hub.

Every module in this package is imported when the CLI starts. Write a module
here (e.g. `feeds.py`) that does::

    from hub.cli import main, pass_app

    @main.command("build-feeds")
    @pass_app
    def build_feeds(app): ...

or simply `import hub.feeds.cli` if your commands live next to your code.
"""
