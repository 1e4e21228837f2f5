"""Reads a JUnit file with junitparser (an independent reader) and prints
one JSON object per test case: name, classname, and its results."""
import json
import sys

from junitparser import JUnitXml

xml = JUnitXml.fromfile(sys.argv[1])
cases = []
for suite in xml:
    for case in suite:
        results = [{"type": type(r).__name__, "message": r.message, "text": r.text} for r in case.result]
        cases.append({"name": case.name, "classname": case.classname, "time": case.time, "results": results})
print(json.dumps(cases))
