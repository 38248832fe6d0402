"""Docstrings and type stubs cover the whole public API (including the new modules)."""
import ast
import os

import kvbm

NEW = (kvbm.Manager, kvbm.EventsManager, kvbm.Subscription, kvbm.Event, kvbm.Aggregator,
       kvbm.StatsCollector, kvbm.StatsSnapshot, kvbm.BlockSequence, kvbm.RequestSequence,
       kvbm.SchedulableSequence, kvbm.SequenceEvent)


def test_new_types_have_docstrings():
    for cls in NEW:
        assert cls.__doc__, cls
        for name in dir(cls):
            if not name.startswith("_") and name not in ("count", "index", "n_fields",
                                                         "n_sequence_fields",
                                                         "n_unnamed_fields"):
                assert getattr(cls, name).__doc__, f"{cls.__name__}.{name} lacks a docstring"


def stub_tree():
    path = os.path.join(os.path.dirname(kvbm.__file__), "__init__.pyi")
    with open(path) as f:
        tree = ast.parse(f.read())
    names, members = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            m = members.setdefault(node.name, set())
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef):
                    m.add(sub.name)
                elif isinstance(sub, ast.AnnAssign):
                    m.add(sub.target.id)
                elif isinstance(sub, ast.Assign):
                    m.update(t.id for t in sub.targets)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names, members


def test_stubs_cover_the_new_api():
    names, members = stub_tree()
    public = {n for n in dir(kvbm) if not n.startswith("_")}
    assert public - names == set(), "names missing from __init__.pyi"
    for cls in NEW:
        name = cls.__name__
        own = {n for n in dir(cls) if not n.startswith("_") and n not in dir(tuple)
               and not n.startswith("n_")}
        assert own - members[name] == set(), f"{name} members missing from __init__.pyi"
