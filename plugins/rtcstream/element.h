// SPDX-License-Identifier: LGPL-2.1-or-later
//
// ElementCore: the part of rtcstreamsink's and rtcstreamsrc's private State
// that is the same in both (settings and their lock, the Worker, the
// signaller in use and the element's handlers on it, the data channels),
// with the start, stop, stats timer and worker hand-off that go with it.
// Each element's State derives from it and adds its own sessions.
//
// The settings hold what the user set (the application's own signaller
// among them); the signaller in use while started (the application's, or
// one made from the uri) lives here only.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "props.h"
#include "rtcstream/datachannel.h"
#include "rtcstream/ref.h"
#include "rtcstream/signaller.h"
#include "rtcstream/worker.h"

namespace rtcstream {

struct ElementCore {
  // Guards settings and navigation; each element's State says what else.
  std::mutex lock;
  CommonSettings settings;
  bool navigation = true;  // guarded by lock

  std::shared_ptr<Worker> worker;
  std::unique_ptr<DataChannels> channels;
  // Set at init by an element that takes some remote channels itself
  // (rtcstreamsrc's data streams); webrtcbin's thread; true: taken.
  std::function<bool (GstWebRTCDataChannel *)> claim_channel;
  // The signaller in use, from start to stop: set and dropped on the worker
  // (start and stop wait for it), read there in between; the application
  // thread reads it only in start, after setting it, and in stop, before
  // dropping it.
  Ref<RtcstreamSignaller> signaller;
  // Worker-only (start and stop wait for the worker to set them).
  bool started = false;
  guint stats_generation = 0;

  // An element handler for one of the signaller's signals.
  struct Handler {
    const char *signal;
    GCallback callback;
  };

  // Instance init: default settings, a Worker named after the element, and
  // the data channels with the element's handlers.
  void init (const char *name, DataChannels::Handlers handlers);
  // Finalize: joins the worker, then drops the channels.
  void finalize ();

  // A copy of the settings, taken under the lock. Any thread.
  CommonSettings copy_settings ();

  // Application thread (READY to PAUSED). On the worker, and waiting for it:
  // takes sig as the signaller in use, marks the element started, runs
  // on_start, and from then on calls refresh_stats there every second until
  // stop. Then connects handlers (element as their user data) to sig and
  // starts it.
  void start (GstElement *element, Ref<RtcstreamSignaller> sig, std::function<void ()> on_start,
      std::function<void ()> refresh_stats, std::initializer_list<Handler> handlers);
  // Application thread (PAUSED to READY). Disconnects the handlers and stops
  // the signaller, so that no signaller callback runs for the element after
  // this; then on the worker, waiting for it, runs on_stop, marks the
  // element stopped and drops the signaller.
  void stop (std::function<void ()> on_stop);

  // The signaller's thread (its "error" handler): posts err as a RESOURCE
  // ERROR with code on element's bus, from the worker, unless the element
  // has stopped by then; at once, or, while a state change of the element's
  // pipeline is running, once it has ended. gst-launch-1.0 (1.22) quits its
  // main loop from a bus sync handler when it sees an ERROR: one posted
  // during its first set_state (PAUSED), before it runs that loop, is printed
  // but the quit is lost, and the pipeline goes on to PLAYING and never
  // exits (a room participant refused a taken name, for one).
  void post_error (GstElement *element, GstResourceError code, const GError *err);

  // Worker thread: channels the remote side of a session opens on its
  // webrtcbin are adopted into channels under that session.
  void adopt_remote_channels (const std::string &session, GstElement *webrtcbin);

private:
  std::vector<gulong> handler_ids_;  // application thread: start and stop

  void post_error_when_settled (Ref<GstElement> element, GstResourceError code,
      std::string message, std::string debug, guint waited_ms, bool last_look);
  void schedule_stats (Ref<GstElement> element, guint generation,
      std::function<void ()> refresh_stats);
};

// The signaller's thread: the handler of its "warning" signal (both
// elements, user data the element): a WARNING message on the bus, e.g. the
// connection to the signalling server was lost and the signaller reconnects
// while the sessions go on.
void on_signaller_warning (RtcstreamSignaller *signaller, GError *err, gpointer element);

// Any thread: runs fn (self) on the element's worker, later, unless the
// element has stopped by then; holds a ref on the element meanwhile.
// Element is an instance struct whose state derives from ElementCore.
template <typename Element, typename Fn>
void
on_worker (Element *self, Fn fn)
{
  Ref<Element> ref = Ref<Element>::take_ref (self);
  self->state->worker->post ([ref, fn] {
    if (ref->state->started)
      fn (ref.get ());
  });
}

// For uri_handler_init: the settings of an element whose state derives from
// ElementCore (the handler is the element's instance).
template <typename Element>
SettingsAccess
core_settings (GstURIHandler *handler)
{
  ElementCore *core = reinterpret_cast<Element *> (handler)->state;
  return {&core->lock, &core->settings};
}

}  // namespace rtcstream
