"""Shipping: package the model artifact for an image, release an image to Lambda, smoke-test, roll back.

``python -m nlpops.deploy --help`` lists the commands. The CD workflow (.github/workflows/cd.yml) calls them,
so what it does can be run and tested outside GitHub Actions. Settings come from ``deploy.env``.
"""
