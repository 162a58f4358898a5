// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_ROOM (rtcstream_room_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamRoom, rtcstream_room, RTCSTREAM, ROOM, GstBin)

GST_ELEMENT_REGISTER_DECLARE (rtcstreamroom);

G_END_DECLS
