"""Collecting every problem of a study file, so that all are reported at once and in the order they appear
in the file, rather than one per attempt."""

import contextlib
import re

import yaml

from gansearch.errors import PluginError, StudyConfigError, StudyConfigErrors


class Problems:
    """The problems found so far in one study file. ``check()`` is a block whose ``StudyConfigError`` or
    ``PluginError`` is kept instead of raised; ``raise_if_any()`` raises them all, in file order."""

    def __init__(self, file: str | None = None):
        self.file = file
        self.found: list[Exception] = []

    @contextlib.contextmanager
    def check(self):
        try:
            yield
        except StudyConfigErrors as exc:
            self.found.extend(exc.problems)
        except (StudyConfigError, PluginError) as exc:
            self.found.append(exc)

    def touch(self, *prefixes: str) -> bool:
        """Has a problem been found at one of these keys (or below them)?"""
        return any(_under(getattr(p, "key", None) or "", prefix) for p in self.found for prefix in prefixes)

    def raise_if_any(self) -> None:
        if not self.found:
            return
        problems = sorted(self.found, key=_file_order(self.file))
        raise problems[0] if len(problems) == 1 else StudyConfigErrors(problems)


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def key_lines(text: str) -> dict[str, tuple[int, int]]:
    """Every key path of a YAML document (``generator.blocks.1``) and where it starts: (line, column)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[str, tuple[int, int]] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = f"{path}.{key.value}" if path else str(key.value)
                lines.setdefault(name, (key.start_mark.line, key.start_mark.column))
                walk(value, name)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                name = f"{path}.{i}"
                lines.setdefault(name, (item.start_mark.line, item.start_mark.column))
                walk(item, name)

    walk(root, "")
    return lines


def _file_order(file: str | None):
    """A sort key: the line of a problem's key in the file (the nearest key above it when the file does not
    have that key), problems without a key first."""
    try:
        lines = key_lines(open(file, encoding="utf-8").read()) if file else {}
    except OSError:
        lines = {}

    def line_of(problem) -> tuple[int, int]:
        key = re.sub(r"\s*\(.*\)$", "", getattr(problem, "key", None) or "")
        while key and key not in lines:
            key = key.rpartition(".")[0]
        return lines[key] if key else (-1, 0)

    return line_of
