"""The executable schema: ``schema.graphql`` (the SDL served as is) bound to its resolvers."""
from pathlib import Path

from ariadne import make_executable_schema

from .mutations import mutation_type
from .queries import query_type
from .subscriptions import subscription_type
from .types import bindables

SDL = (Path(__file__).parent / "schema.graphql").read_text()
schema = make_executable_schema(SDL, query_type, mutation_type, subscription_type, *bindables, convert_names_case=True)
