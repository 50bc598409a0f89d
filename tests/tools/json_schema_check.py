#!/usr/bin/python3
"""Checks a JSON document against a JSON Schema (the subset Lathe's proto/ schemas use:
type, enum, const, required, properties, additionalProperties, items, minItems,
maxItems, minimum, oneOf, allOf, if/then, $ref to "#/..." or to a file beside the schema).
Debian's python has no
jsonschema package; this is the test suites' stand-in.
    json_schema_check.py SCHEMA DOCUMENT   -> exit 0, or 1 with the first error path"""
import json
import os
import sys

BASE = "."

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def is_type(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])


def resolve(root, ref):
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def check(root, s, v, path):
    if "$ref" in s and not s["$ref"].startswith("#"):
        other = json.load(open(os.path.join(BASE, s["$ref"])))
        check(other, other, v, path)
    elif "$ref" in s:
        check(root, resolve(root, s["$ref"]), v, path)
    t = s.get("type")
    if t is not None and not any(is_type(v, x) for x in (t if isinstance(t, list) else [t])):
        raise ValueError("%s: %r is not %s" % (path, v, t))
    if "enum" in s and v not in s["enum"]:
        raise ValueError("%s: %r not in %s" % (path, v, s["enum"]))
    if "const" in s and v != s["const"]:
        raise ValueError("%s: %r is not %r" % (path, v, s["const"]))
    if "minimum" in s and is_type(v, "number") and v < s["minimum"]:
        raise ValueError("%s: %r < %r" % (path, v, s["minimum"]))
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                raise ValueError("%s: %s is required" % (path, k))
        props = s.get("properties", {})
        for k, x in v.items():
            if k in props:
                check(root, props[k], x, path + "." + k)
            elif s.get("additionalProperties") is False:
                raise ValueError("%s: %s is not allowed" % (path, k))
            elif isinstance(s.get("additionalProperties"), dict):
                check(root, s["additionalProperties"], x, path + "." + k)
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", len(v)):
            raise ValueError("%s: %d items" % (path, len(v)))
        if "items" in s:
            for i, x in enumerate(v):
                check(root, s["items"], x, "%s[%d]" % (path, i))
    if "oneOf" in s:
        ok = 0
        for sub in s["oneOf"]:
            try:
                check(root, sub, v, path)
                ok += 1
            except ValueError:
                pass
        if ok != 1:
            raise ValueError("%s: matches %d of oneOf" % (path, ok))
    for sub in s.get("allOf", []):
        check(root, sub, v, path)
    if "if" in s:
        try:
            check(root, s["if"], v, path)
            matched = True
        except ValueError:
            matched = False
        if matched and "then" in s:
            check(root, s["then"], v, path)


def main():
    global BASE
    BASE = os.path.dirname(os.path.abspath(sys.argv[1]))
    schema = json.load(open(sys.argv[1]))
    doc = json.load(open(sys.argv[2]))
    try:
        check(schema, schema, doc, "$")
    except ValueError as e:
        print("schema violation:", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
