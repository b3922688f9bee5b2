# Turns the outbound queue's .lua files into one C++ source: each script becomes a string
# constant, so the binary needs no file at run time. Run by a custom command:
#   cmake -DOUTPUT=<file.cpp> -DNAMESPACE=<ns> -DSOURCES=<a.lua|b.lua> -P embed_lua.cmake
string(REPLACE "|" ";" SOURCES "${SOURCES}")
set(text "// Generated from the .lua files by cmake/embed_lua.cmake: edit those, not this.\n")
string(APPEND text "#include <string_view>\n\nnamespace ${NAMESPACE} {\n")
foreach(source IN LISTS SOURCES)
  get_filename_component(name "${source}" NAME_WE)
  file(READ "${source}" body)
  string(FIND "${body}" ")wappa_lua\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${source} contains the raw-string delimiter )wappa_lua\"")
  endif()
  string(APPEND text "extern const std::string_view ${name};\nconst std::string_view ${name} = R\"wappa_lua(${body})wappa_lua\";\n")
endforeach()
string(APPEND text "}  // namespace ${NAMESPACE}\n")
file(WRITE "${OUTPUT}.tmp" "${text}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
