"""Operations: the `gateway` command and its subcommands, start-up checks and the gunicorn server settings."""
