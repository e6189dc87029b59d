"""JSON read as a strict SIEM reads it: UTF-8 or nothing, no NaN or
Infinity, no lone surrogate in any string. Shared by the HTTPS receiver
and soc.py."""
import json


def no_constant(name):
    raise ValueError("not JSON: " + name)


def strings_ok(v):
    """Every string encodes back to UTF-8: no lone surrogate."""
    if isinstance(v, str):
        v.encode("utf-8")
    elif isinstance(v, list):
        for x in v:
            strings_ok(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            strings_ok(k)
            strings_ok(x)


def loads(raw):
    """The document in raw (bytes); UnicodeError or ValueError when a
    strict reader would refuse it."""
    doc = json.loads(raw.decode("utf-8", errors="strict"), parse_constant=no_constant)
    strings_ok(doc)
    return doc


if __name__ == "__main__":
    # strictjson.py FILE: exit 0 when FILE is one document a strict SIEM
    # reads, else the reason and exit 1.
    import sys
    try:
        loads(open(sys.argv[1], "rb").read())
    except (UnicodeError, ValueError) as e:
        sys.exit("%s: %s" % (sys.argv[1], e))
