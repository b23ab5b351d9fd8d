"""A flow's graph, read from its source with `ast` (never imported): parse, check, render.

parse.py chooses the flow class and builds the Graph, source.py reads a
class's steps, decorators and parameters, lint.py checks the structure
(every problem naming file, line and step), render.py draws it for people.
"""

from flowdrop.graph.parse import find_flow_class_names, parse_flow, parse_flow_file
from flowdrop.graph.render import render_dot, render_graph

__all__ = ["find_flow_class_names", "parse_flow", "parse_flow_file", "render_dot", "render_graph"]
