"""Storage: the only place SQL lives. psycopg 3, plain SQL migrations, three detected tiers."""
