"""Corpus building (`auralign data build-corpus`): a labelled corpus of real recordings from Debian
sound packages, rendered GM notes, FSDD, mixtures of them, and MATS's text-only corpus.

A build-time tool, kept apart from the runtime layers (audio, backbones, models, evaluation): it
fetches packages with apt-get / pip / npm and unpacks them. Only the label text (`labels`,
`captions`) is read at runtime, by `auralign.data.label_text`.
"""
