"""The read planner: a GraphQL query operation compiled to one SQL statement whose result is the
response's `data` JSON, built by PostgreSQL (README, "Two read paths").

The resolver path (resolvers/, schema/types) is the reference: the planner answers the same bytes
or does not answer at all (planner.runtime falls back per operation, or per request).
"""

from planner.access import AccessClass, access_class
from planner.builder import Binding, Unplannable
from planner.runtime import FALLBACKS, PLANNED, Plan, ReadPlanner, open_pool

__all__ = [
    "FALLBACKS",
    "PLANNED",
    "AccessClass",
    "Binding",
    "Plan",
    "ReadPlanner",
    "Unplannable",
    "access_class",
    "open_pool",
]
