from tests.server.settings.world import client, world  # noqa: F401 (fixtures)
