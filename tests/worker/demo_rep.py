"""The demo's sales rep (sandbox/seed.py), whose mailbox most worker tests deliver to; the
`rep` fixture (tests/worker/conftest.py) gives their user and mailbox ids."""

REP = "alex.morgan@contoso-demo.com"
