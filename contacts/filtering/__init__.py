"""The one filter language (docs/ARCHITECTURE.md rule 4): parse and validate a JSON tree against the
channel's fields, then compile it to a Django Q with bound parameters.

    {"and": [{"key": "profile.age", "operator": "gte", "values": [30]},
             {"or": [{"key": "tags", "operator": "hasAny", "values": ["vip"]}, …]}]}
"""

from contacts.filtering.compile import filter_compile
from contacts.filtering.keys import KeySpec, key_resolve
from contacts.filtering.parse import Condition, Group, filter_parse
from contacts.filtering.search import quick_search_q

__all__ = [
    "Condition",
    "Group",
    "KeySpec",
    "filter_compile",
    "filter_parse",
    "key_resolve",
    "quick_search_q",
]
