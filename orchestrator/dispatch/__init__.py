"""The dispatcher: cook jobs from Redis to cooking robots, ready orders to serving robots.

`service` runs the loops, `fleet` is the ROS 2 bridge, `policy` picks a robot for a job and
`delivery` groups ready orders into serving trips. Only `fleet` (and `service`, which starts
it) imports rclpy, so the rest is usable and testable without ROS 2.
"""
