"""The dashboard's queries: snapshot.py reads the published warehouse for the signed-in viewer
(scoping, caching); one module per page holds that page's SQL."""
