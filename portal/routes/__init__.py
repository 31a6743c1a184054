"""Route modules, one per page family; each exports `routes`."""
