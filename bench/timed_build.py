"""`mkdocs build` with the plansite plugin's own CPU time measured, in this process.

bench.build runs this in a child for each full build: the CPU time spent importing the
plugin (where MkDocs imports it, while it loads the configuration's plugins) and inside its
event handlers is the builder's own share of the build.

This module imports nothing of plansite's at the top, and its caller must not either: a
builder module imported before MkDocs imports the plugin would have its import cost
charged to MkDocs instead of the builder (bench.build imports builder.content, and with it
frictionless, for the workload generator; measured from there, the plugin's import cost
looked 0.08 s smaller than it is).

    python -m bench.timed_build CONFIG SITE   # prints the figures as JSON on its last line
"""

from __future__ import annotations

import functools
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

PLUGIN = "plansite"  # the plugin's entry point name (pyproject.toml)
# The stages the issue lists as the builder's own work, as builder.plugin calls them.
STAGES = ("load_content", "load_reports", "evaluate", "render_pages")


def timed_build(config: Path, site: Path) -> dict[str, float]:
    """Run `mkdocs build -q` of `config` into `site`; the CPU seconds spent by the plugin."""
    import jieba

    # jieba loads its dictionary on first use, from whichever caller comes first (the
    # plugin's add_word for unit names, else the search plugin): a cost of Chinese search,
    # paid here up front so it is counted as MkDocs' and not as the builder's.
    jieba.setLogLevel(60)
    jieba.initialize()
    from mkdocs.__main__ import cli
    from mkdocs.config.config_options import Plugins
    from mkdocs.plugins import CombinedEvent

    spent: dict[str, float] = {"import_cpu": 0.0, "plugin_cpu": 0.0}

    def timed(method: Any, key: str = "plugin_cpu") -> Any:
        """The method, adding the CPU time of each call to spent[key]."""
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            begin = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                spent[key] = spent.get(key, 0.0) + time.process_time() - begin
        return wrapper

    def instrument(plugin_class: type) -> None:
        for name, method in list(vars(plugin_class).items()):
            if name.startswith("on_") and isinstance(method, CombinedEvent):
                # One event, several handlers with their own priorities (kept by wraps).
                setattr(plugin_class, name, CombinedEvent(*map(timed, method.methods)))
            elif name.startswith("on_") and callable(method):
                setattr(plugin_class, name, timed(method))
        module = sys.modules[plugin_class.__module__]
        for name in STAGES:
            setattr(module, name, timed(getattr(module, name), f"{name}_cpu"))

    load_plugin = Plugins.load_plugin

    @functools.wraps(load_plugin)
    def load_timed(self: Plugins, name: str, config: Any) -> Any:
        if name == PLUGIN and not spent["import_cpu"]:
            # Import it here, where MkDocs would (the same modules already loaded), and
            # instrument its class before MkDocs registers its handlers.
            begin = time.process_time()
            plugin_class = self.installed_plugins[name].load()
            spent["import_cpu"] = time.process_time() - begin
            instrument(plugin_class)
        return load_plugin(self, name, config)

    Plugins.load_plugin = load_timed  # type: ignore[method-assign]
    cli(["build", "-q", "-f", str(config), "-d", str(site)], standalone_mode=False)
    if not spent["import_cpu"]:
        raise SystemExit(f"the {PLUGIN} plugin was not loaded by {config}")
    # The plugin writes the exports in a child process on the second core: its CPU is the
    # builder's too, and part of the build's total.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent["export_cpu"] = children.ru_utime + children.ru_stime
    spent["plugin_main_cpu"] = spent["plugin_cpu"]
    spent["plugin_cpu"] += spent["export_cpu"]
    spent["total_cpu"] = time.process_time() + spent["export_cpu"]
    return spent


if __name__ == "__main__":
    if any(name == "builder" or name.startswith("builder.") for name in sys.modules):
        raise SystemExit("bench.timed_build must run before anything imports the builder")
    print(json.dumps(timed_build(Path(sys.argv[1]), Path(sys.argv[2]))))
