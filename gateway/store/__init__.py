"""Storage: the tables, their migrations, prebuilt statements, row mapping and the SQLite writers' gate."""
