// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A session's setup and teardown leak nothing (issue 12): GStreamer's leaks
// tracer (GST_TRACERS=leaks, which meson sets for this program) knows every
// GstObject alive in the process. A producer (audio and video, as users
// publish) and its viewers run in this process, paired by the loopback
// signaller. After a warm-up viewer has come and gone (types registered,
// the first DTLS certificate, pools and caches made once per process), the
// tracer starts tracking; then viewers come, play and go, one after
// another; once they are gone, of the objects made meanwhile none may be
// alive in numbers that grow with them:
// every webrtcbin, element, pad, transceiver of the viewers' sessions, on
// the producer's side and on theirs, was freed.
//
// Memory below GStreamer's objects (malloc) is AddressSanitizer's part:
// scripts/sanitize.sh runs the suites under ASan and UBSan.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "harness.h"

using rtcstream::test::kVideo;
using rtcstream::test::Pipeline;
using rtcstream::test::start_consumer;
using rtcstream::test::start_producer;
using rtcstream::test::stats_uint;

namespace {

constexpr int kTimeoutMs = 15000;
constexpr int kCycles = 5;

// The active leaks tracer (a new reference), or null.
GstTracer *
leaks_tracer ()
{
  GstTracer *found = nullptr;
  GList *tracers = gst_tracing_get_active_tracers ();
  for (GList *l = tracers; l; l = l->next)
    if (!found && g_str_equal (G_OBJECT_TYPE_NAME (l->data), "GstLeaksTracer"))
      found = GST_TRACER (gst_object_ref (l->data));
  g_list_free_full (tracers, gst_object_unref);
  return found;
}

// The GstObjects made since the tracer's activity tracking started and not
// freed since, counted by type. The checkpoint lists the objects made and
// the objects freed (type and address); what was made at an address more
// often than something was freed there is alive. (The tracer's
// get-live-objects would be simpler, but in GStreamer 1.22 it hands out
// objects it holds no reference to.)
std::map<std::string, int>
made_and_alive (GstTracer *tracer)
{
  std::map<std::string, int> by_address;  // "type address" -> made - freed
  GstStructure *checkpoint = nullptr;
  g_signal_emit_by_name (tracer, "activity-get-checkpoint", &checkpoint);
  if (!checkpoint)
    return {};
  for (auto [field, delta] : {std::pair ("objects-created-list", 1), {"objects-removed-list", -1}}) {
    const GValue *list = gst_structure_get_value (checkpoint, field);
    for (guint i = 0; list && i < gst_value_list_get_size (list); i++) {
      const GstStructure *o = gst_value_get_structure (gst_value_list_get_value (list, i));
      const char *type = gst_structure_get_string (o, "type-name");
      const char *address = gst_structure_get_string (o, "address");
      if (type && address)
        by_address[std::string (type) + " " + address] += delta;
    }
  }
  gst_structure_free (checkpoint);
  std::map<std::string, int> out;
  for (const auto &kv : by_address)
    if (kv.second > 0)
      out[kv.first.substr (0, kv.first.find (' '))] += kv.second;
  return out;
}

class Leaks : public rtcstream::test::StreamingTest {};

TEST_F (Leaks, ViewersThatComeAndGoLeaveNoObjectBehind)
{
  g_autoptr (GstTracer) tracer = leaks_tracer ();
  if (!tracer)
    GTEST_SKIP () << "the leaks tracer is not active (run with GST_TRACERS=leaks, as meson does)";
  const std::string link = "loopback://leaks";
  // Without a prepared encoder: the sink sets one up again after each last
  // viewer left (by design, one at a time), which would read as 11 pads and
  // an encoder's elements made during the cycles and alive after them.
  auto prod = start_producer (kVideo + " ! rtcstreamsink name=sink prepare-encoder=false uri=" + link +
      " audiotestsrc is-live=true ! sink.audio_0", kTimeoutMs);
  GstElement *sink = prod->element ("sink");

  // One viewer: plays video and audio, then goes, and the producer forgets it.
  auto viewer_comes_and_goes = [&] (int i) {
    {
      auto cons = start_consumer ("rtcstreamsrc name=src uri=" + link +
          " src. ! video/x-raw ! queue ! fakesink name=v src. ! audio/x-raw ! queue ! fakesink name=a");
      auto v = cons->count ("v");
      auto a = cons->count ("a");
      EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 15 && a->frames >= 15; }, kTimeoutMs))
          << "viewer " << i << ": video " << v->frames << " audio " << a->frames << "\n"
          << cons->all_errors () << prod->all_errors ();
      cons->stop ();
    }
    EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (sink, "consumers") == 0; }, kTimeoutMs))
        << "viewer " << i << " is still a consumer";
    prod->pump (500);  // what the worker frees after the consumer is gone
  };

  viewer_comes_and_goes (0);
  g_signal_emit_by_name (tracer, "activity-start-tracking");
  for (int i = 1; i <= kCycles; i++)
    viewer_comes_and_goes (i);
  std::map<std::string, int> alive = made_and_alive (tracer);
  g_signal_emit_by_name (tracer, "activity-stop-tracking");

  std::string listed;
  for (const auto &kv : alive)
    listed += " " + kv.first + " " + std::to_string (kv.second);
  std::cout << "GstObjects made while " << kCycles << " viewers came and went, still alive:"
            << (listed.empty () ? " none" : listed) << std::endl;
  // A leak per session leaves one object of some type per viewer at least.
  for (const auto &kv : alive)
    EXPECT_LT (kv.second, kCycles) << kv.second << " " << kv.first << " made while " << kCycles
        << " viewers came and went are still alive";
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

}  // namespace
