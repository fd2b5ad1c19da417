"""``tcmr.import_motion``: our ``.npz``, the official TCMR demo ``.pkl`` or an AMASS ``.npz`` -> the scene."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ImportHelper

from ...core.errors import MocapError
from ..runtime import preferences
from ..ui import done, fail
from . import builder


class TCMR_OT_import_motion(Operator, ImportHelper):
    """Import SMPL motion: a TCMR Mocap result (.npz), the TCMR demo output (.pkl) or an AMASS file (.npz)"""

    bl_idname = "tcmr.import_motion"
    bl_label = "Import SMPL Motion"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz;*.pkl", options={"HIDDEN"})
    create_mesh: BoolProperty(name="Create Mesh", default=builder.BuildOptions.create_mesh,
                              description="Add the skinned SMPL body to each armature")
    set_scene: BoolProperty(name="Set Up Scene", default=builder.BuildOptions.set_scene,
                            description="Camera with the footage, frame rate, frame range and resolution "
                                        "from the file")
    video_path: StringProperty(name="Footage", subtype="FILE_PATH", options={"SKIP_SAVE"},
                               description="Video for the camera background (empty: the one in the file)")
    models_dir: StringProperty(name="Models", subtype="DIR_PATH", options={"SKIP_SAVE", "HIDDEN"},
                               description="Where the SMPL file is (empty: the preferences')")

    def execute(self, context):
        options = builder.BuildOptions(
            create_mesh=self.create_mesh,
            set_scene=self.set_scene,
            models_dir=bpy.path.abspath(self.models_dir) if self.models_dir else preferences.models_dir(context),
            video_path=bpy.path.abspath(self.video_path) if self.video_path else "",
        )
        context.window_manager.tcmr_job.last_error = ""
        try:
            result = builder.import_file(context, bpy.path.abspath(self.filepath), options)
        except MocapError as err:
            return fail(self, context, str(err))
        return done(self, f"Imported {len(result.armatures)} armature(s) into '{result.collection.name}'",
                    result.warnings)


def menu_import(self, context):
    self.layout.operator(TCMR_OT_import_motion.bl_idname, text="SMPL Motion (.npz, .pkl)")


CLASSES = (TCMR_OT_import_motion,)
