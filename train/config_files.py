"""Config files for ``train fit`` and ``train leaks``: a path the user names, or a bundled config
of that name, checked to be YAML sections before anything reads it."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from siamkit.errors import ConfigError


def config_path(name: str) -> str:
    """A config file the user names, or else a bundled one of that name."""
    if Path(name).is_dir():
        raise ConfigError(f"config {name} is a folder, not a config file{_recorded_config_hint(Path(name))}")
    if Path(name).exists():
        return name
    candidate = resources.files("siamkit.configs") / name
    if candidate.is_file():
        return str(candidate)
    raise ConfigError(f"config file {name} not found here, and it is not a bundled config "
                      f"(bundled: {', '.join(bundled_configs())})")


def _recorded_config_hint(folder: Path) -> str:
    """For a run folder (or its log folder) given as a config: the config.yaml its latest fit recorded."""
    recorded = [folder / "config.yaml", *folder.glob("logs/version_*/config.yaml")]
    recorded = [path for path in recorded if path.is_file()]
    if not recorded:
        return ""
    latest = max(recorded, key=lambda path: path.stat().st_mtime)
    return f"; its run recorded the settings it was trained with in {latest}: pass `--config {latest}`"


def bundled_configs() -> list[str]:
    return sorted(p.name for p in resources.files("siamkit.configs").iterdir() if p.name.endswith(".yaml"))


def read_config(name: str) -> tuple[str, dict]:
    """A config file's path (see ``config_path``) and its sections; one line naming the file,
    line and column when it is empty, not YAML, or not a mapping of sections."""
    import yaml

    path = config_path(name)
    try:
        config = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"config {path} is not UTF-8 text (byte {error.start}); save it as UTF-8 "
                          "YAML") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        tabs = " (YAML indents with spaces, not tabs)" if "\t" in Path(path).read_text() else ""
        raise ConfigError(f"config {path} is not valid YAML{where}: {problem}{tabs}") from None
    if not isinstance(config, dict):
        what = "empty" if config is None else f"a {type(config).__name__}, not sections"
        raise ConfigError(f"config {path} is {what}; it needs sections such as `model:`, `data:`, "
                          "`trainer:` (see the bundled demo_digits.yaml)")
    return path, config


#: settings that name files or folders, which a config kept beside its data may give relative to itself
PATH_SETTINGS = ("data.source", "data.val_data", "data.root", "model.init_from")


def check_paths_from_here(paths: dict[str, Any], config_files: list) -> None:
    """A config's paths (``paths``: setting -> value) are read from the folder `train` runs in, as
    on the command line. One that does not exist from there but does beside one of
    ``config_files`` (a config kept with its data, run from elsewhere) gets one line saying so, in
    place of a bare "does not exist"."""
    for key, value in paths.items():
        if not isinstance(value, str) or Path(value).is_absolute() or Path(value).exists():
            continue
        for file in config_files:
            beside = Path(str(file)).parent / value
            if beside.exists():
                raise ConfigError(f"{key} {value} does not exist from here ({Path.cwd()}), only from the "
                                  f"folder of the config {file}: a config's paths are read from the folder "
                                  f"`train` runs in; write {os.path.relpath(beside)}, or an absolute path")
