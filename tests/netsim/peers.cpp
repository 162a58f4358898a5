// SPDX-License-Identifier: LGPL-2.1-or-later
#include "peers.h"

#include <glib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace netsim {

namespace {

std::string
env_or (const char *name, const char *fallback)
{
  const char *v = g_getenv (name);
  return v && *v ? v : fallback;
}

bool
starts_with (const std::string &s, const char *prefix)
{
  return s.rfind (prefix, 0) == 0;
}

}  // namespace

SignallingServer::SignallingServer (Network &net, const Host &host,
    const std::vector<std::string> &extra)
    : address_ (host.address ())
{
  std::vector<std::string> argv = {env_or ("RTCSTREAM_SIGNALLING", "rtcstream-signalling"),
      "--host", address_, "--port", "0"};
  argv.insert (argv.end (), extra.begin (), extra.end ());
  process_ = net.spawn (host, argv);
  // "rtcstream-signalling listening on ws://ADDRESS:PORT/ws"
  auto line = process_->wait_prefix ("rtcstream-signalling listening on", 10000);
  const char *colon = line ? strrchr (line->c_str (), ':') : nullptr;
  if (colon)
    port_ = (unsigned) strtoul (colon + 1, nullptr, 10);
}

std::string
SignallingServer::uri (const std::string &stream) const
{
  return "rtcstream://" + address_ + ":" + std::to_string (port_) + "/" + stream;
}

std::string
SignallingServer::http () const
{
  return "http://" + address_ + ":" + std::to_string (port_);
}

GstProcess::GstProcess (Network &net, const Host &host, const std::string &description,
    const std::vector<std::string> &count)
{
  std::vector<std::string> argv = {env_or ("NETSIM_GST", "netsim-gst")};
  for (const std::string &name : count) {
    argv.push_back ("--count");
    argv.push_back (name);
  }
  argv.push_back (description);
  process_ = net.spawn (host, argv);
}

bool
GstProcess::wait_for (const std::string &wanted, int timeout_ms)
{
  auto line = process_->wait_line ([&wanted] (const std::string &l) {
    return l == wanted || starts_with (l, "error ");
  }, timeout_ms);
  return line && *line == wanted;
}

bool
GstProcess::wait_playing (int timeout_ms)
{
  return wait_for ("playing", timeout_ms);
}

bool
GstProcess::wait_registered (int timeout_ms)
{
  return wait_for ("registered", timeout_ms);
}

uint64_t
GstProcess::frames (const std::string &name, uint64_t *bytes)
{
  unsigned long long n = 0, b = 0;
  if (process_->send ("count " + name)) {
    auto line = process_->wait_prefix ("frames " + name + " ", 5000);
    if (line)
      sscanf (line->c_str () + 8 + name.size (), "%llu %llu", &n, &b);
  }
  if (bytes)
    *bytes = b;
  return n;
}

uint64_t
GstProcess::wait_frames (const std::string &name, uint64_t count, int timeout_ms,
    int *waited_ms)
{
  constexpr int kPollMs = 250;
  uint64_t n = frames (name);
  int waited = 0;
  for (; n < count && waited < timeout_ms; waited += kPollMs) {
    std::this_thread::sleep_for (std::chrono::milliseconds (kPollMs));
    n = frames (name);
  }
  if (waited_ms)
    *waited_ms = waited;
  return n;
}

std::string
GstProcess::stats (const std::string &name)
{
  const std::string prefix = "stats " + name + " ";
  if (!process_->send ("stats " + name))
    return "";
  auto line = process_->wait_prefix (prefix, 5000);
  return line ? line->substr (prefix.size ()) : "";
}

std::string
GstProcess::caps (const std::string &name)
{
  const std::string prefix = "caps " + name + " ";
  if (!process_->send ("caps " + name))
    return "";
  auto line = process_->wait_prefix (prefix, 5000);
  return line ? line->substr (prefix.size ()) : "";
}

double
stats_number (const std::string &stats, const std::string &field)
{
  for (const char *sep : {"\\=", "="}) {
    size_t at = stats.find (field + sep);
    if (at == std::string::npos)
      continue;
    at = stats.find (')', at);  // after the type
    if (at == std::string::npos)
      return NAN;
    return strtod (stats.c_str () + at + 1, nullptr);
  }
  return NAN;
}

std::string
plain (const std::string &stats)
{
  std::string out;
  for (char c : stats)
    if (c != '\\')
      out += c;
  return out;
}

std::vector<int>
int_fields (const std::string &stats, const std::string &field, const char *type)
{
  std::vector<int> out;
  const std::string text = plain (stats), key = field + "=(" + type + ")";
  for (size_t at = text.find (key); at != std::string::npos; at = text.find (key, at + 1)) {
    if (at > 0 && text[at - 1] != ' ' && text[at - 1] != ',')
      continue;  // the end of a longer name
    out.push_back (std::stoi (text.substr (at + key.size ())));
  }
  return out;
}

std::string
GstProcess::messages () const
{
  std::string out;
  for (const std::string &l : process_->lines ())
    if (starts_with (l, "error ") || starts_with (l, "warning "))
      out += l + "\n";
  return out;
}

}  // namespace netsim
