"""What a document may ask, checked before it runs (CONTRACT section 12).

Text first: at most ``MAX_SOURCE`` characters and ``MAX_TOKENS`` tokens, and braces
nested no deeper than the depth limit allows (with room for fragments and input
objects), so a 1 MB or 64-level document is refused before the parser recurses into it.
Then, on the parsed and validated document: depth (introspection's own fields not
counted: GraphiQL's introspection query is 13 deep), aliases, and nodes, the product
of ``first`` down each nesting of connections. The cost is GitHub's: the connections
the document would request (each nested one once per parent item), over 100, at least 1.
"""
from graphql import (FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, Visitor, get_named_type,
                     visit)
from graphql.utilities import value_from_ast

from ..errors import is_storable
from .problems import request_error

MAX_SOURCE = 100_000
MAX_TOKENS = 20_000
MAX_NODES = 50_000
MAX_ALIASES = 30
DEFAULT_FIRST = 50


def unstorable_strings(document):
    """Errors for string literals no database can store (a NUL, a lone surrogate): GraphQL's
    own escapes (``"\\u0000"``) make them where the JSON body had none."""
    found = []

    class Strings(Visitor):
        def enter_string_value(self, node, *_args):
            if not is_storable(node.value):
                found.append(request_error("A string contains a character that cannot be stored "
                                           "(NUL or a lone surrogate).", "BAD_USER_INPUT"))

    visit(document, Strings())
    return tuple(found[:1])


def too_complex(message):
    return request_error(message, "QUERY_TOO_COMPLEX")


def check_text(text, max_depth):
    """Refuse a document whose braces nest deeper than any allowed one could."""
    depth = deepest = 0
    in_string = False
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            in_string = not in_string
        elif in_string:
            continue
        elif char == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "}":
            depth -= 1
    if deepest > 2 * max_depth:
        raise too_complex(f"The document nests deeper than {max_depth} levels.")


class Measure:
    """Depth, aliases, nodes and requests of one operation."""

    def __init__(self, schema, document, variables):
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = variables or {}
        self.depth = self.aliases = self.nodes = self.requests = 0

    def walk(self, selection_set, parent, depth, multiplier, seen=()):
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self._field(selection, parent, depth, multiplier, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                self.walk(selection.selection_set, self.schema.get_type(condition.name.value) if condition else parent,
                          depth, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = self.fragments[selection.name.value]
                self.walk(fragment.selection_set, self.schema.get_type(fragment.type_condition.name.value),
                          depth, multiplier, (*seen, selection.name.value))

    def _field(self, node, parent, depth, multiplier, seen):
        if node.alias is not None:
            self.aliases += 1
        name = node.name.value
        if name.startswith("__"):
            return
        definition = parent.fields[name]
        self.depth = max(self.depth, depth + 1)
        field_type = get_named_type(definition.type)
        if field_type.name.endswith("Connection"):
            self.requests += multiplier
            multiplier *= self._first(node, definition)
            self.nodes += multiplier
        if node.selection_set is not None:
            self.walk(node.selection_set, field_type, depth + 1, multiplier, seen)

    def _first(self, node, definition):
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = value_from_ast(argument.value, definition.args["first"].type, self.variables)
                return value if isinstance(value, int) and value > 0 else DEFAULT_FIRST
        return DEFAULT_FIRST


def measure(schema, document, operation, variables, max_depth):
    """Check ``operation``'s limits; return its cost."""
    root = schema.get_root_type(operation.operation)
    found = Measure(schema, document, variables)
    found.walk(operation.selection_set, root, 0, 1)
    if found.depth > max_depth:
        raise too_complex(f"The document is {found.depth} levels deep; at most {max_depth} are allowed.")
    if found.aliases > MAX_ALIASES:
        raise too_complex(f"The document has {found.aliases} aliases; at most {MAX_ALIASES} are allowed.")
    if found.nodes > MAX_NODES:
        raise too_complex(f"The document could return {found.nodes} nodes; at most {MAX_NODES} are allowed.")
    return max(1, round(found.requests / 100))
