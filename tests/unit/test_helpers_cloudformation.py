"""The template cut tests/functional/test_infra_deploy.py deploys: what it drops and why."""

from __future__ import annotations

from tests.helpers.cloudformation import deployable, references


def test_references_read_ref_getatt_and_sub_but_not_escapes_or_sub_locals():
    value = {"A": {"Ref": "Queue"}, "B": {"Fn::GetAtt": ["Table", "Arn"]}, "C": {"Fn::GetAtt": "Bus.Arn"},
             "D": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${!Literal}/${Role.Arn}"},
             "E": {"Fn::Sub": ["${Local}-${Stage}", {"Local": {"Ref": "Topic"}}]}}
    assert references(value) == {"Queue", "Table", "Bus", "AWS::Partition", "Bucket", "Role", "Stage", "Topic"}


def test_unsupported_resources_take_their_dependents_and_outputs_with_them():
    template = {
        "Transform": "AWS::Serverless-2016-10-31", "Globals": {"Function": {}}, "Parameters": {"Stage": {}},
        "Resources": {
            "Fn": {"Type": "Sam::Fn"},
            "Permission": {"Type": "Ok", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "OnPermission": {"Type": "Ok", "Properties": {"X": {"Fn::Sub": "${Permission}"}}},
            "Policy": {"Type": "Sam::Policy"},
            "Bucket": {"Type": "Ok", "DependsOn": ["Policy", "Queue"], "Properties": {"Name": {"Ref": "Stage"}}},
            "Queue": {"Type": "Ok"},
        },
        "Outputs": {"FnArn": {"Value": {"Fn::GetAtt": ["Fn", "Arn"]}}, "Bucket": {"Value": {"Ref": "Bucket"}}},
    }
    cut = deployable(template, lambda kind: not kind.startswith("Sam::"))
    assert cut.unsupported == {"Fn": "Sam::Fn", "Policy": "Sam::Policy"}
    assert cut.dependents == {"Permission": {"Fn"}, "OnPermission": {"Permission"}}
    assert cut.dropped_outputs == {"FnArn": {"Fn"}}
    assert cut.dropped_depends_on == {"Bucket": {"Policy"}}
    assert set(cut.template["Resources"]) == {"Bucket", "Queue"}
    assert cut.template["Resources"]["Bucket"]["DependsOn"] == ["Queue"]
    assert set(cut.template) == {"Parameters", "Resources", "Outputs"}  # the SAM sections are gone
    assert template["Resources"]["Bucket"]["DependsOn"] == ["Policy", "Queue"]  # the input is left as it was
