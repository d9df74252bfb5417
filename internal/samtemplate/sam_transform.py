#!/usr/bin/env python3
"""Transform template.yaml into CloudFormation as `sam deploy` has it done.

Usage: sam_transform.py TEMPLATE PARAMETERS_JSON MANAGED_POLICIES_JSON

`sam deploy` uploads what `sam package` wrote: the same template with each
function's local CodeUri replaced by the S3 object of its built code. The
AWS::Serverless transform (aws-sam-translator, the library CloudFormation's
SAM macro runs) then expands it. Its managed-policy loader normally lists
IAM's policies; here it is a fixed map (policy name -> ARN) given by the
caller, so nothing needs AWS. Prints the CloudFormation template as JSON.
"""

import json
import os
import sys

try:
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse
except ImportError as e:  # samtemplate.Transform reports ErrTranslatorMissing
    sys.stderr.write("aws-sam-translator is not installed (%s): pip install aws-sam-translator\n" % e)
    sys.exit(3)


class FixedPolicies(ManagedPolicyLoader):
    def __init__(self, policies):
        self._policies = policies

    def load(self):
        return dict(self._policies)


def main():
    template_path, parameters, policies = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    # The translator builds ARNs for the deploying region; sam deploy has one.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(template_path) as f:
        template = yaml_parse(f.read())
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str) \
                and not props["CodeUri"].startswith("s3://"):
            # sam package: the built code's zip, uploaded under its hash.
            props["CodeUri"] = "s3://sam-artifacts/%s.zip" % logical_id
    out = transform(template, parameters, FixedPolicies(policies))
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
