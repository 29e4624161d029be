"""What leaves CityDesk: meeting maps, web maps and reports, shared by the window and the command line."""
