"""The database: SQLite behind an async facade, its migrations, the data folder, small JSON documents."""
