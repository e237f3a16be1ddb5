"""YAML for files people edit: a key written twice in one mapping is refused, at any
depth, rather than the last one silently winning (PyYAML's behaviour)."""

from pathlib import Path
from typing import Any

import yaml

from stitchkit.common.errors import UserError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that raises DuplicateKey for a key repeated in one mapping (merge keys
    `<<` excepted: they are meant to be overridden)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKey(key, seen[key], line)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key, first: int, second: int):
        super().__init__(f"{key} appears twice")
        self.key, self.first, self.second = key, first, second


def load_yaml(path: Path) -> Any:
    """The YAML document of ``path``, or one UserError line naming a key written twice
    (with both line numbers) or the line where the syntax breaks."""
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader
    except DuplicateKey as exc:
        raise UserError(
            f"{path}: key `{exc.key}` is written twice (lines {exc.first} and {exc.second}); "
            "keep one"
        ) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        problem = getattr(exc, "problem", None) or exc
        raise UserError(f"{path} is not valid YAML{line}: {problem}; fix its syntax") from None
