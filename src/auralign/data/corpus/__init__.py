"""A labelled corpus of real recordings from Debian sound packages, rendered GM notes, FSDD,
mixtures of them, and MATS's text-only corpus (`auralign data build-corpus`)."""
