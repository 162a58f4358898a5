// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstream's processes inside netsim hosts: the signalling server bound to
// a host's veth address, and pipelines played by netsim-gst. Used by the
// netsim tests and by bench/netsim-bench. Thread: the test's (see netsim.h).
#pragma once

#include "netsim.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace netsim {

// rtcstream-signalling ($RTCSTREAM_SIGNALLING) inside host, listening on
// the host's address and a port it picks.
class SignallingServer {
public:
  SignallingServer (Network &net, const Host &host, const std::vector<std::string> &extra = {});
  bool ok () const { return port_ != 0; }
  // rtcstream://ADDRESS:PORT/stream
  std::string uri (const std::string &stream) const;
  // http://ADDRESS:PORT, where the web page and WHIP/WHEP are.
  std::string http () const;

private:
  std::unique_ptr<Process> process_;
  std::string address_;
  unsigned port_ = 0;
};

// A pipeline description played by netsim-gst ($NETSIM_GST) inside host;
// `count` names elements whose sink-pad buffers are counted.
class GstProcess {
public:
  GstProcess (Network &net, const Host &host, const std::string &description,
      const std::vector<std::string> &count = {});

  // Wait for the pipeline to play / an rtcstreamsink in it to be registered.
  // False after an error (see errors()) or when the time ran out.
  bool wait_playing (int timeout_ms);
  bool wait_registered (int timeout_ms);
  // Buffers (and bytes) counted on `name` so far; 0 when the process is gone.
  uint64_t frames (const std::string &name, uint64_t *bytes = nullptr);
  // Polls frames (name) every 250 ms until it reaches `count` or timeout_ms
  // passed; returns the last count (and in *waited_ms how long it took).
  uint64_t wait_frames (const std::string &name, uint64_t count, int timeout_ms,
      int *waited_ms = nullptr);
  // The "stats" structure of element `name`, as a string ("" if none).
  std::string stats (const std::string &name);
  // The current caps of element `name`'s src pad ("none" if none).
  std::string caps (const std::string &name);
  // Every "error ..." and "warning ..." line so far, one per line.
  std::string messages () const;
  Process &process () { return *process_; }

private:
  bool wait_for (const std::string &line, int timeout_ms);

  std::unique_ptr<Process> process_;
};

// The first number after `field` in a structure string (a "stats" answer),
// also inside nested structures, whose fields come escaped
// ("bytes-sent\=\(guint64\)123"); NAN when there is none.
double stats_number (const std::string &stats, const std::string &field);

// A stats string without the escaping of nested structures.
std::string plain (const std::string &stats);

// Every value of an int (or other `type`) field in a stats string (nested
// structures too), in order.
std::vector<int> int_fields (const std::string &stats, const std::string &field,
    const char *type = "int");

}  // namespace netsim
