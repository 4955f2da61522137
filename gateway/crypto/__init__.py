"""Pure cryptography at rest (issue 9): see README.md beside this file.

- :mod:`gateway.crypto.envelope`: the sealed-content format (AES-256-GCM, random 96-bit
  nonces, associated data binding a ciphertext to its row);
- :mod:`gateway.crypto.kek`: key-encryption keys (a key file, an environment key, or a
  KMS/HSM behind the :class:`~gateway.crypto.kek.KeyWrapper` seam);
- :mod:`gateway.crypto.index_hash`, :mod:`gateway.crypto.index_key`: the keyed hashes the
  search index holds instead of identifier values.

Nothing here touches the database: data keys live in ``gateway.storage.keys``.
"""
