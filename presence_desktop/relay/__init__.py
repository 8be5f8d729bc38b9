"""The status relay: the one component that holds AWS credentials and publishes presence.

- :mod:`.core`: framework-free request handling (verify, authorize, validate, version, store,
  publish, sweep); the HTTP API is documented there.
- :mod:`.store` (SQLite) and :mod:`.dynamo_store` (DynamoDB): one interface, atomic versions.
- :mod:`.publisher`: SigV4-signed ``POST /event`` to AppSync Events, with retries.
- :mod:`.server` (aiohttp, ``presence-relay``) and :mod:`.lambda_handler` (AWS Lambda): adapters.
- :mod:`.config`: configuration from the environment / arguments.
- :mod:`.cognito_jwt`: Cognito token verification.
"""
