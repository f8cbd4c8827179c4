"""Training on AWS SageMaker: training and tuning jobs from the same Hydra configs ``train.py`` reads.

``python -m nlpops.cloud`` submits and follows jobs (boto3); ``python -m nlpops.cloud.container`` is the training
image's entry point, the container side of SageMaker's contract. See docs/cloud-setup.md.
"""
