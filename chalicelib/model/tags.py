"""Run tags as data: Metaflow's rules for a valid tag and which tags are the system's.

Owns: tag_problems (one check for `--tag`, `tag add` and the client's
add_tag), the tag set limits, and telling system tags (`user:<name>`,
`production:<token>`, `runtime:dev`, ...) from the tags people give in
run records written before run.json kept them apart. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# As in Metaflow: a run carries at most 50 user tags, each at most 500 characters.
MAX_USER_TAGS = 50
MAX_TAG_LENGTH = 500

SYSTEM_TAG_PREFIXES = ("user:", "production:", "runtime:", "python_version:", "date:", "flowdrop_version:",
                       "project:", "project_branch:", "scheduled_time:")


def tag_problems(tag: Any) -> list[str]:
    """Why `tag` cannot be a tag ([] when it can): a non-empty string of UTF-8 encodable text, 500 chars at most."""
    if isinstance(tag, bytes):
        try:
            tag = tag.decode("utf-8")
        except UnicodeDecodeError:
            return ["tags must be UTF-8 decodable"]
    if not isinstance(tag, str):
        return [f"tags must be strings, got {type(tag).__name__}"]
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError:
        return ["tags must be UTF-8 encodable"]
    if not tag:
        return ["tags must not be empty"]
    if len(tag) > MAX_TAG_LENGTH:
        return [f"a tag is at most {MAX_TAG_LENGTH} characters; this one has {len(tag)}"]
    return []


def tag_set_problems(tags: Iterable[Any], existing: Iterable[str] | None = None) -> list[str]:
    """Every problem of a new user tag set: each tag's, and the set growing past MAX_USER_TAGS."""
    tag_set = set(tags)
    problems = [f"{tag!r}: {p}" for tag in sorted(tag_set, key=repr) for p in tag_problems(tag)]
    if len(tag_set) > MAX_USER_TAGS and (existing is None or len(set(existing)) < len(tag_set)):
        problems.append(f"a run carries at most {MAX_USER_TAGS} user tags; this would make {len(tag_set)}")
    return problems


def is_system_tag(tag: str) -> bool:
    """True for the tags flowdrop writes itself (records from before user_tags were kept separately)."""
    return tag.startswith(SYSTEM_TAG_PREFIXES)
