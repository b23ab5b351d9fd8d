"""Code packages: what the uploader builds and the deployer reads, never trusting it.

  snapshot.py  which files of a flow's folder go in, their limits, the content hash
  archive.py   the deterministic tar.gz, and bounded, safe reading and extraction
  manifest.py  the versioned manifest, validated field by field
"""
