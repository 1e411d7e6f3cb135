"""One function per command: read → rules → writes → commit. Results come back; nothing prints."""
