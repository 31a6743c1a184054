"""Route modules, one per page family; each exports `routes`."""

from portal.paths import register_path_convertors

# Before any route module compiles its paths: they use {...:id} and {...:order_no}.
register_path_convertors()
