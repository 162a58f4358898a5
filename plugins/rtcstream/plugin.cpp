// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gst/gst.h>

#include "rtcstream/abs-capture-time.h"
#include "rtcstream/playout-delay.h"
#include "rtcstream/signallers/janus-signaller.h"
#include "rtcstream/signallers/whip-signaller.h"
#include "rtcstream/signallers/ws-signaller.h"
#include "rtcstreamroom.h"
#include "rtcstreamsink.h"
#include "rtcstreamsrc.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  // Applications make signallers by type name before any element exists.
  g_type_ensure (RTCSTREAM_TYPE_WS_SIGNALLER);
  g_type_ensure (RTCSTREAM_TYPE_JANUS_SIGNALLER);
  g_type_ensure (RTCSTREAM_TYPE_WHIP_SIGNALLER);
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER (rtcstreamsink, plugin);
  ok |= GST_ELEMENT_REGISTER (rtcstreamsrc, plugin);
  ok |= GST_ELEMENT_REGISTER (rtcstreamroom, plugin);
  // The playout-delay RTP header extension, found by URI by payloaders and
  // depayloaders (rtcstreamsink's, and any webrtcbin's).
  ok |= rtcstream_playout_delay_extension_register (plugin);
  // The abs-capture-time one: when each frame was captured.
  ok |= rtcstream_abs_capture_time_extension_register (plugin);
  return ok;
}

#define PACKAGE "rtcstream"
GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, rtcstream,
    "WebRTC as pipeline elements: publish with rtcstreamsink, receive with rtcstreamsrc, "
    "take part in a room with rtcstreamroom",
    plugin_init, "0.1.0", "LGPL", "rtcstream", "https://rtcstream.invalid/")
