"""The ROS 2 environment of robot nodes started by a launch file: the restaurant's DDS domain and
discovery range (settings `ros_*`, overridable by launch arguments) and, with an SROS2 keystore
(`ros2 security`, a system ROS 2 only: the wheels' Fast DDS has no DDS Security), the variables
that make every node run under DDS Security in its enclave `/robodine/<robot_id>`."""

from __future__ import annotations

from pathlib import Path

from orchestrator.settings import get_settings


def launch_env(domain_id: str = '', discovery: str = '', keystore: str = '') -> dict[str, str]:
    """Environment variables for a robot node; empty arguments keep the settings' values."""
    update: dict[str, object] = {}
    if domain_id:
        update['ros_domain_id'] = int(domain_id)
    if discovery:
        update['ros_discovery'] = discovery
    env = get_settings().model_copy(update=update).ros_environment()
    if keystore:
        env |= {
            'ROS_SECURITY_KEYSTORE': str(Path(keystore).resolve()),
            'ROS_SECURITY_ENABLE': 'true',
            'ROS_SECURITY_STRATEGY': 'Enforce',
        }
    return env


def enclave_args(robot_id: str, keystore: str) -> list[str]:
    """`--ros-args` for the node's SROS2 enclave (none without a keystore)."""
    return ['--enclave', f'/robodine/{robot_id}'] if keystore else []
