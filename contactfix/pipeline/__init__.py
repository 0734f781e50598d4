"""The pipeline: resolve records into identities, repair their contacts, dispatch what is new."""
