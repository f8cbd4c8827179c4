"""A real S3 API on 127.0.0.1 (moto's server) that checks credentials like AWS does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3

from tests.local_servers import moto_server

REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str

    def credentials(self, secret: str | None = None) -> dict[str, str]:
        """Environment variables for a client of this server (``secret`` overrides the right one)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret or self.secret_access_key,
            "AWS_DEFAULT_REGION": REGION,
        }


@contextmanager
def s3_server(bucket: str) -> Iterator[S3Server]:
    """Moto with authentication on, a user with S3 rights and ``bucket``; stopped on exit."""
    # The first three calls (create the user, its policy, its key) go through before authentication starts.
    with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="3") as endpoint:
        setup = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, **setup)
        iam.create_user(UserName="dvc")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="dvc", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="dvc")["AccessKey"]
        server = S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=server.access_key_id,
            aws_secret_access_key=server.secret_access_key,
        ).create_bucket(Bucket=bucket)
        yield server
