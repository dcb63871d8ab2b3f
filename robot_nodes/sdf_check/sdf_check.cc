// sdf_check: load SDF files with libsdformat, print every error, list each world's models.
//
// Gazebo itself loads worlds through libsdformat, so a world this accepts is one gz sim parses.
// Build: g++ -std=c++17 sdf_check.cc $(pkg-config --cflags --libs sdformat12) -o sdf_check
// Use:   sdf_check FILE.sdf...   (exit status 1 if any file has an error)
#include <iostream>

#include <sdf/sdf.hh>

int main(int argc, char **argv)
{
  if (argc < 2)
  {
    std::cerr << "usage: " << argv[0] << " FILE.sdf...\n";
    return 2;
  }
  int failed = 0;
  for (int i = 1; i < argc; ++i)
  {
    sdf::Root root;
    const sdf::Errors errors = root.Load(argv[i]);
    for (const auto &error : errors)
      std::cerr << argv[i] << ": " << error << '\n';
    if (!errors.empty() || root.WorldCount() == 0)
    {
      if (errors.empty())
        std::cerr << argv[i] << ": no world\n";
      ++failed;
      continue;
    }
    for (uint64_t w = 0; w < root.WorldCount(); ++w)
    {
      const sdf::World *world = root.WorldByIndex(w);
      std::cout << "world " << world->Name() << '\n';
      for (uint64_t m = 0; m < world->ModelCount(); ++m)
      {
        const sdf::Model *model = world->ModelByIndex(m);
        std::cout << "model " << model->Name() << " links=" << model->LinkCount()
                  << " joints=" << model->JointCount() << " plugins=";
        sdf::ElementPtr elem = model->Element();
        for (sdf::ElementPtr plugin = elem->FindElement("plugin"); plugin;
             plugin = plugin->GetNextElement("plugin"))
          std::cout << plugin->Get<std::string>("name") << ',';
        std::cout << '\n';
      }
    }
  }
  return failed ? 1 : 0;
}
