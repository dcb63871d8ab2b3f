"""colcon (ament_python) build of robot_nodes for people with a system ROS 2 Jazzy.

pip users get robot_nodes from the repository's pyproject.toml instead. This folder is the
package itself, hence package_dir. The nodes import `orchestrator.config` (the restaurant
model): run them from the repository root or install the robodine distribution too.
"""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
PACKAGE = 'robot_nodes'
CONFIGS = [str(p.relative_to(HERE)) for p in HERE.glob('config/*.yaml')]
LAUNCH_FILES = [str(p) for p in (HERE.parent / 'launch').glob('*.launch.py')]

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=[PACKAGE, f'{PACKAGE}.drivers'],
    package_dir={PACKAGE: '.'},
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (
            f'share/{PACKAGE}/config',
            [str(p.relative_to(HERE)) for p in HERE.glob('config/*.yaml')],
        ),
        (
            f'share/{PACKAGE}/launch',
            [str(p) for p in (HERE.parent / 'launch').glob('*.launch.py')],
        ),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    entry_points={
        'console_scripts': [
            'cooking_robot = robot_nodes.cooking_robot:main',
            'serving_robot = robot_nodes.serving_robot:main',
            'floor_plant = robot_nodes.floor_plant:main',
            'floor_monitor = robot_nodes.floor_monitor:main',
            'traffic_controller = robot_nodes.traffic_controller:main',
        ],
    },
)
