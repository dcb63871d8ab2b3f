# Shared by our rosidl packages (restaurant_interfaces, nav2_msgs) when pip builds them
# (scikit-build-core sets SKBUILD) against the ROS 2 Jazzy wheels installed in the isolated
# build environment; colcon with a system ROS 2 needs none of it.

# The wheels install their CMake packages under the environment's prefix (the wheel "data"
# scheme), which nothing puts on CMake's or ament's search path: derive it from ament_package
# (<prefix>/lib/pythonX.Y/site-packages/ament_package/__init__.py). Call before find_package.
macro(ros_wheels_prefix)
  if(SKBUILD)
    find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -c
        "import ament_package, pathlib; print(pathlib.Path(ament_package.__file__).parents[4])"
      OUTPUT_VARIABLE ROS_WHEEL_PREFIX
      OUTPUT_STRIP_TRAILING_WHITESPACE
      COMMAND_ERROR_IS_FATAL ANY)
    message(STATUS "ROS 2 wheels prefix: ${ROS_WHEEL_PREFIX}")
    list(PREPEND CMAKE_PREFIX_PATH "${ROS_WHEEL_PREFIX}")
    set(ENV{AMENT_PREFIX_PATH} "${ROS_WHEEL_PREFIX}")
    set(PYTHON_EXECUTABLE "${Python3_EXECUTABLE}")
  endif()
endmacro()

# The wheels' imported targets carry the include directories of the machine that built them
# (/opt/python/...); swap those for this interpreter's and numpy's. Call after
# rosidl_generate_interfaces.
macro(ros_wheels_fix_includes)
  if(SKBUILD)
    get_directory_property(_imported IMPORTED_TARGETS)
    foreach(_target IN LISTS _imported)
      get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
      if(_dirs MATCHES "^/opt/python/|;/opt/python/")
        list(FILTER _dirs EXCLUDE REGEX "^/opt/python/")
        list(APPEND _dirs ${Python3_INCLUDE_DIRS} ${Python3_NumPy_INCLUDE_DIRS})
        list(REMOVE_DUPLICATES _dirs)
        set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_dirs}")
      endif()
    endforeach()
  endif()
endmacro()
