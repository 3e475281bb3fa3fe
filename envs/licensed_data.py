"""Locate, fetch and verify the non-commercial reference data: DiffMimic's converted states and ASE's characters and
motions.

Like DeepMimic's data (``envs.data``), these files are never committed. Each source has its own folder: the one its
environment variable names (``MIMICBENCH_DIFFMIMIC_DATA``, ``MIMICBENCH_ASE_DATA``; it must exist), else the fetch
cache (``$XDG_CACHE_HOME/mimicbench/<source>``, default ``~/.cache/mimicbench/<source>``). ``--data-dir`` keeps
naming DeepMimic's folder only. ``fetch`` downloads every file from the source's pinned upstream commit, checks its
sha256 (the hashes of the source's ``SOURCE.md``), and refuses unless the caller accepts the source's non-commercial
licence explicitly.

CLI::

    python -m envs.licensed_data fetch --source diffmimic|ase --accept-licence [--dest DIR] [--force]
    python -m envs.licensed_data verify --source diffmimic|ase
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from envs.data import TIMEOUT_S, DataError, Opener, download_file, sha256_file

FETCH_COMMAND = "python run_benchmark.py fetch --source {source} --accept-licence"


@dataclass(frozen=True)
class SourceFile:
    """One upstream file: its path in the local folder, its url at the pinned commit, and its sha256."""

    relpath: str
    url: str
    sha256: str


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    """How messages name it."""
    repo: str
    commit: str
    env_var: str
    licence: str
    """The licence a user accepts with ``--accept-licence``, as named in the refusal."""
    upstream_prefix: Callable[[str], str]
    """Upstream path of a file, from its local relative path."""
    table: tuple[tuple[str, str], ...]
    """(local relative path, sha256) of every file, licence included."""

    @property
    def files(self) -> tuple[SourceFile, ...]:
        base = f"https://raw.githubusercontent.com/{self.repo}/{self.commit}"
        return tuple(SourceFile(rel, f"{base}/{self.upstream_prefix(rel)}", sha) for rel, sha in self.table)


# Hashes from each source's SOURCE.md (computed from the pinned commit).
DIFFMIMIC_FILES = (
    ("demo_aist/gBR_sBM_cAll_d04_mBR0_ch01.npy", "8102300f3fcad0ca5768159f71a98b7481b4e170ffb8e018c2abd2828ea6c8d2"),
    ("demo_aist/gBR_sFM_cAll_d04_mBR1_ch02.npy", "f7de8485eeac36ab0da4584387c2d0804f621dfd8a9433489fe268f24b50806e"),
    ("demo_amass/75_09_stageii.npy", "b49835921980b4b0f2fe6dc0ec561592076fa3dee87d96c9c6633a5c866120d3"),
    ("demo_amass/KickHuefthoch05_stageii.npy", "8b1c087f3991b2bff526b9d7d1933d25035ed9c7b5af8a0634ceeb0517d92e98"),
    ("demo_amass/WalkingStraightBackwards07_stageii.npy", "eb530207d912c11d5b519cb6b46e06ec5721009e97811439e649bebceea265c9"),
    ("demo_swordshield/RL_Avatar_Atk_2xCombo01_Motion.npy", "4cab3140f413545006aa73feeaf22dc5f12a65eb793133850b11fed1e539d85e"),
)
ASE_FILES = (
    ("mjcf/amp_humanoid.xml", "c2968fa670fc25e9fdfb267e8000df08a3687ee2416d86e98544f338337237d5"),
    ("mjcf/amp_humanoid_sword_shield.xml", "8ca186de7655a0ec57c3538d3ab2e99dc6bb4079b5c8eda14e00f508578b3b3f"),
    ("motions/amp_humanoid_jog.npy", "478720244f67047424a42a2b7c727158c51e535f006a1ae570b537af860c5188"),
    ("motions/amp_humanoid_run.npy", "d92644f37dce312beb08de3566a1ffc61ce04c7ec4f85c31a47b350311e63d9d"),
    ("motions/amp_humanoid_walk.npy", "3658a75562b33c65e1ade981d3aa4d39a9cedb061a6d5ebdb64e03cacd2de13b"),
    ("motions/reallusion_sword_shield/README.txt", "fb374b5eccc337af38c542632a86d70a7bda3f2649691593100c765bd91f0e10"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_2xCombo01_Motion.npy", "5811dd9e63ae034e39486040d9b4deb82a67419e337b23d59a766e02597298b1"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_2xCombo02_Motion.npy", "55206f7468c983466a29f057672beeddfe1143156e4704b6dd8e082a5ecdd493"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_2xCombo03_Motion.npy", "2102093e616a9542f0bb8bd8352e8b61d5efdbe2b1a045ae0e39d98df8d6b6ce"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_2xCombo05_Motion.npy", "0ec435171155f96d2d41a40247a3997a1ff0ac36cbaa4e7d02b7f797e65c3c2a"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_3xCombo01_Motion.npy", "12b418edb12bdb3b6c3e6b9277a0653f24d448cac0b46c9525d279f4abe67e4c"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_3xCombo02_Motion.npy", "6ba577d1f33762f4403e87fa18b5a13bb7479605720a5599e545a940983c461c"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_3xCombo03_Motion.npy", "6d50f418a55ff516157032d310d23ac8498e1289cc134fefb4c3d543bd07c96d"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_3xCombo04_Motion.npy", "7fed6e0dc96620affa910960f35b3637f27956c57851e33b33aaa8da747aad08"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_3xCombo05_Motion.npy", "066a90fc799bb3399de876277efbbbafc5dc0e24bdc1a33dbb92126d0e82a43e"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_3xCombo06_Motion.npy", "b0551b2ae34e64d29015416ecdeb3ba938b6164395ce002e40e784aa746dc7ec"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_3xCombo07_Motion.npy", "aca2c919073176a854ce7b876010ccf3904e50fc0ac4ba9ecf55d44dc49ee60e"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_4xCombo01_Motion.npy", "3ad3ff535817fc3f7da7b6f01099ae2e9cbcb139f4cb625b1eb0c5163caa3acd"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_4xCombo02_Motion.npy", "ef8b665182bfae1eb89ac4f63176f2b55ea338a0bff9eb014d8ea907a3957bd4"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_4xCombo03_Motion.npy", "4a9f7eac70cacb9a25bb4030db4ccbc5ad058e3aa008c44ce2f7e23fe9e9b704"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_Kick_Motion.npy", "6534c56c969802079f947913ecfe2f88e8729adba8d2f2af8042dfcc3b4ecb91"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_ShieldCharge_Motion.npy", "8e7567d05bc2bda37911df61edfe859018953ced00a7a8e9d8279309eef21d8e"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_ShieldSwipe01_Motion.npy", "d131319cc8dc95e21151b177645fae081dd93de0e1129448b47050247646b914"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_ShieldSwipe02_Motion.npy", "8802d8bb6d2baf1d0527c8542e82a883a4c7c8a207a6b026330de779aa5ce709"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_SlashDown_Motion.npy", "1a7509ad7c55640d6fb531ba825e53ac73617bb38b0ea37946462f4ff85de2c6"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_SlashLeft_Motion.npy", "88242bcb6e35168179e834f5a82e1fe228e072c9caee3d1b13bb10973d387f25"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_SlashRight_Motion.npy", "7e124ff1d16f53fb2845657a8c3639e248dc5bc4c920b8819e7b68c1c00c811d"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_SlashUp_Motion.npy", "9fea13bd48f1c02230c051e015c0bd896c60d9d537a9cd5c2829fcac735206a7"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_Spin_Motion.npy", "ebdd4e70563ed9a55340a296ebcb8b5412bc430154af9fee9bd46ab229b1b855"),
    ("motions/reallusion_sword_shield/RL_Avatar_Atk_Stab_Motion.npy", "84447bd38d1efa356dc44d68f5e5d516760c03cdb236aa1a13c181f3bbc6d3c0"),
    ("motions/reallusion_sword_shield/RL_Avatar_Counter_Atk01_Motion.npy", "b135fb346553f36134810893f0ea5596dc07ca68703a711cbc37e55a87de1805"),
    ("motions/reallusion_sword_shield/RL_Avatar_Counter_Atk03_Motion.npy", "0781fe7dcfd5d7b8c0d435e62b82b16b6300516d40ea71c543d70e618e5789f4"),
    ("motions/reallusion_sword_shield/RL_Avatar_Counter_Atk04_Motion.npy", "2639fb2c3b5cd1638bfb1f44e6bd51d96babc5c670642310b15aaf66f92501df"),
    ("motions/reallusion_sword_shield/RL_Avatar_Counter_Atk05_Motion.npy", "9b05ba1546c2bb265f77cf91b44d5f8d8c25614b9613db829981a290c8193278"),
    ("motions/reallusion_sword_shield/RL_Avatar_Dodge_Backward_Motion.npy", "d4435cd6f00d3665db33aa12c80ae911a207947f50ac59ecd48d2f0cbc95a49a"),
    ("motions/reallusion_sword_shield/RL_Avatar_Dodgle_Left_Motion.npy", "2ce5cfcdb70fdfc10d5f1a4e028adc58dde063c6afee9501760da349953f3e5a"),
    ("motions/reallusion_sword_shield/RL_Avatar_Dodgle_Right_Motion.npy", "c53636fe59e1bd602080bae30aeab75869a67e776ccca7694a1e42cab3729b77"),
    ("motions/reallusion_sword_shield/RL_Avatar_Fall_Backward_Motion.npy", "303c2029ba21b9e2ce8cedba813e6db9818928e4a80f938994ea5ad97e3611e0"),
    ("motions/reallusion_sword_shield/RL_Avatar_Fall_Left_Motion.npy", "4695b6448fc47af8eab99c12d133d48483f9ffc6e70f2db255400c8b0bd41db8"),
    ("motions/reallusion_sword_shield/RL_Avatar_Fall_Right_Motion.npy", "f2c7e4c9634c6e8018d2586e09d64d7b09a5faa2bb54baa644943ba05afe79f9"),
    ("motions/reallusion_sword_shield/RL_Avatar_Fall_SpinLeft_Motion.npy", "2d1417ecbcf4d85fa4a37f4c60fb51f59d6de195ce5ef45b520c0b242be105cc"),
    ("motions/reallusion_sword_shield/RL_Avatar_Fall_SpinRight_Motion.npy", "6cd1adc2112a436100827b28108b7ef4f88ad508beffb18f38cee38e148b2a92"),
    ("motions/reallusion_sword_shield/RL_Avatar_Idle_Alert_Motion.npy", "21c386220ac46a330f1eabd5832ffb967162b806f6d62ae698da36b71f949849"),
    ("motions/reallusion_sword_shield/RL_Avatar_Idle_Battle(0)_Motion.npy", "2d94be71a6c2ef1a1e4d67cb416d16404a7cd529c884b6efaf0064b732589c42"),
    ("motions/reallusion_sword_shield/RL_Avatar_Idle_Battle_Motion.npy", "2d94be71a6c2ef1a1e4d67cb416d16404a7cd529c884b6efaf0064b732589c42"),
    ("motions/reallusion_sword_shield/RL_Avatar_Idle_Ready(0)_Motion.npy", "330966a0182bdfebb238eaa11273f59be38cedc09fa4b0fa9945714ca336a913"),
    ("motions/reallusion_sword_shield/RL_Avatar_Idle_Ready_Motion.npy", "330966a0182bdfebb238eaa11273f59be38cedc09fa4b0fa9945714ca336a913"),
    ("motions/reallusion_sword_shield/RL_Avatar_Kill_2xCombo01_Motion.npy", "6f6e85c20278f07b8d6f3143567c413bafd7669ecd733c60f82c6ed7ba7bb0f6"),
    ("motions/reallusion_sword_shield/RL_Avatar_Kill_2xCombo02_Motion.npy", "92f5da57685b5c8a5c95b3801690a6855ce40234b699be823d1811cd19986bfb"),
    ("motions/reallusion_sword_shield/RL_Avatar_Kill_3xCombo01_Motion.npy", "7225e2280d979ca559f46e7de3dedfd0e46c5d6b0aac1fc66a1ef39b2f94d532"),
    ("motions/reallusion_sword_shield/RL_Avatar_Kill_3xCombo02_Motion.npy", "81e1146d7f235b73b87193c0e3f5d44c1fec33c1e0b94d52553bf4ce5a273648"),
    ("motions/reallusion_sword_shield/RL_Avatar_Kill_4xCombo01_Motion.npy", "22193990a8cf96524c32f986ededb644f84ad54a23cbf8bf02548f93fa34c82a"),
    ("motions/reallusion_sword_shield/RL_Avatar_RunBackward_Motion.npy", "52f7596d5b5e54b427656e7f6108a8324636887ec5ca5f6584256da60d0eac94"),
    ("motions/reallusion_sword_shield/RL_Avatar_RunLeft_Motion.npy", "2db06461c463ea0dd6defa30e78175e7720f73f5914af0a416afec0a5a1369fe"),
    ("motions/reallusion_sword_shield/RL_Avatar_RunRight_Motion.npy", "4fadfab47ee6f806ee5bcd0910a7cf30f06dabddf5c662c3221862cb19f35fb5"),
    ("motions/reallusion_sword_shield/RL_Avatar_Shield_BlockBackward_Motion.npy", "8da68c1181114466454d80a03393c3c72f8d6ca21dbf8681473662c8d399fa29"),
    ("motions/reallusion_sword_shield/RL_Avatar_Shield_BlockCrouch_Motion.npy", "6681c1c1341d9bbbdf46f977a105d64438fdda1e54a99662d6137bc44da234c9"),
    ("motions/reallusion_sword_shield/RL_Avatar_Shield_BlockDown_Motion.npy", "2f0982d5db6869476e1a0595c1b55799681bbda55ed2185298ca23b15ca3471f"),
    ("motions/reallusion_sword_shield/RL_Avatar_Shield_BlockLeft_Motion.npy", "f1804734bf2a19a22f31b5789109042ac202ac1d5a3afbb791f10c363e2d0bae"),
    ("motions/reallusion_sword_shield/RL_Avatar_Shield_BlockRight_Motion.npy", "c2e1f16cc09a68f21d5c3239138a60323ebd243edc6144688578184b0cfb30ab"),
    ("motions/reallusion_sword_shield/RL_Avatar_Shield_BlockUp_Motion.npy", "f2b8299c8b79e76aa6a154c025554a10e1f5574ab8a146b6891a1437ed048523"),
    ("motions/reallusion_sword_shield/RL_Avatar_Standoff_Circle_Motion.npy", "89265afd170f48c9902dfaa0e28aaa06e6ebcf885127f9b4b2019502c02bb707"),
    ("motions/reallusion_sword_shield/RL_Avatar_Standoff_Feint_Motion.npy", "a9357043c599fec8b96a00bf6f2a96c09f99d8532a787210fd69f319ae19ce50"),
    ("motions/reallusion_sword_shield/RL_Avatar_Standoff_Swing_Motion.npy", "392472ee6d154563aa8afa8972c1274ddb12a372a85cdf925a4e7a49fbd253e7"),
    ("motions/reallusion_sword_shield/RL_Avatar_Sword_ParryBackward02_Motion.npy", "921794eae8c97ea21982679495f2dbf89544337fde3abf97ba562a62c5a244bc"),
    ("motions/reallusion_sword_shield/RL_Avatar_Sword_ParryBackward03_Motion.npy", "02e0111b56c6c745975595b39edd7e8dacba9992a0d156c3dfe155bf6596b853"),
    ("motions/reallusion_sword_shield/RL_Avatar_Sword_ParryBackward04_Motion.npy", "511f7ab7a7a8a843cee4e35f029368ce08ba3993d3f686aca91f6c35e16951cd"),
    ("motions/reallusion_sword_shield/RL_Avatar_Sword_ParryCrouch_Motion.npy", "e7585c95c5e45d530dbf51f7fe976f7e672b5e8ea7cef6fbe691f34b5a8a59fb"),
    ("motions/reallusion_sword_shield/RL_Avatar_Sword_ParryDown_Motion.npy", "b0c53a7d75f736f46b42c7d115020a6de255098a12d41127fd37bd7a1ee56bb2"),
    ("motions/reallusion_sword_shield/RL_Avatar_Sword_ParryLeft_Motion.npy", "eb9f9d94ebe8cd5462827493ab111c4292b797a543837500eb052e10236683ce"),
    ("motions/reallusion_sword_shield/RL_Avatar_Sword_ParryRight_Motion.npy", "ee209e760b832570ce6ae6ea42d9e7674d0dd6af9030e5d90dc7a771f6ccdf70"),
    ("motions/reallusion_sword_shield/RL_Avatar_Sword_ParryUp_Motion.npy", "d883d04247caa594b5a1f142ea18aac930ef7a97603abe22758be386af1d4b99"),
    ("motions/reallusion_sword_shield/RL_Avatar_Taunt_PoundChest_Motion.npy", "cf9735f71279a5ed821f924d041255a64e45f50613feca81c6130b6ac350cec9"),
    ("motions/reallusion_sword_shield/RL_Avatar_Taunt_Roar_Motion.npy", "50113b23833a6beb116f77efa3853deba8b1f5e103be3d13255d44f67da607c1"),
    ("motions/reallusion_sword_shield/RL_Avatar_Taunt_ShieldKnock_Motion.npy", "bcf2fba8de1376ce371a4fcd74e30592b6d4b1e828963348a6b6329aba78d20b"),
    ("motions/reallusion_sword_shield/RL_Avatar_TurnLeft90_Motion.npy", "a90cd5ca19fb1fe27ad519af39bb992e64d7431e3a5b093d76ece6052693f8a4"),
    ("motions/reallusion_sword_shield/RL_Avatar_TurnRight180_Motion.npy", "0736f6b86d15f7797ce39670983b262e5d9c153d26f239c395d31705ac63ea04"),
    ("motions/reallusion_sword_shield/RL_Avatar_TurnRight90_Motion.npy", "1ab630b54f256b45b766f3911b9e8e64f71298bc7a92ae7244c6907f44515a7f"),
    ("motions/reallusion_sword_shield/RL_Avatar_WalkBackward01_Motion.npy", "e05cf5461b937af1ef4eb70747f3fe74b1d7b6fda44499cabafcf034cb577563"),
    ("motions/reallusion_sword_shield/RL_Avatar_WalkBackward02_Motion.npy", "f365a28d71315bfb9af2c6a50ab18d02c7adbd9f46208e696ccba12c7b5f4e03"),
    ("motions/reallusion_sword_shield/RL_Avatar_WalkForward01_Motion.npy", "79e3e57ad35f9249b9b11e1633ea6f265d83291b38d4d56be1e45a38a44eb408"),
    ("motions/reallusion_sword_shield/RL_Avatar_WalkForward02_Motion.npy", "538d8546190dbd2c32b41bd172405aea41e803d7797e69b28d85ae22c195c8fc"),
    ("motions/reallusion_sword_shield/RL_Avatar_WalkLeft01_Motion.npy", "65c7342a5180b9f751fccce4afe049557fe2eb85cb819536c94bdce07cd23daa"),
    ("motions/reallusion_sword_shield/RL_Avatar_WalkLeft02_Motion.npy", "c2607659663c0a8ebf63550df9d4c586e1d0f083a695342775b3fdeb36eff57e"),
    ("motions/reallusion_sword_shield/RL_Avatar_WalkRight01_Motion.npy", "4159f04536b93fd19f2f29576adfd09b5704fafdb8d2e6b2a6d08d02f7e8f8e9"),
    ("motions/reallusion_sword_shield/RL_Avatar_WalkRight02_Motion.npy", "85fb3216970344d04b889b45301f0498c7c027968059e10feb282510891f1a3f"),
    ("motions/reallusion_sword_shield/dataset_reallusion_sword_shield.yaml", "92042566a60daa6f6f923e42f583ac7789f1764c427f7897a0b1c30e503150da"),
)


def _ase_upstream(relpath: str) -> str:
    if relpath.startswith("mjcf/"):
        return "ase/data/assets/" + relpath
    if relpath.startswith("motions/"):
        return "ase/data/" + relpath
    return relpath  # the licence, at the repository's root


SOURCES: dict[str, Source] = {
    "diffmimic": Source(
        name="diffmimic",
        title="DiffMimic",
        repo="jiawei-ren/diffmimic",
        commit="d0db48a4af12d8c73924d88973db69a4d104595c",
        env_var="MIMICBENCH_DIFFMIMIC_DATA",
        licence="the S-Lab License 1.0 (non-commercial use only)",
        upstream_prefix=lambda rel: rel if rel == "LICENSE.md" else "data/" + rel,
        table=(("LICENSE.md", "68547d681a125a219b114aaa50464f8365d60f2d2949cdfc099477dab5d3af34"), *DIFFMIMIC_FILES),
    ),
    "ase": Source(
        name="ase",
        title="ASE",
        repo="nv-tlabs/ASE",
        commit="28952a3d3a42434e74a9251a14725fa4e2627b57",
        env_var="MIMICBENCH_ASE_DATA",
        licence="the NVIDIA Source Code License and Reallusion's licence for its motions (non-commercial use only)",
        upstream_prefix=_ase_upstream,
        table=(("LICENSE.txt", "fde012bfdf5fb07e5615c3ddcaa8a5413929d4cf16702e25326055c00a8d0f16"), *ASE_FILES),
    ),
}

# Shipped clips by name (the file's stem), as suites and users spell them: DiffMimic's state files, and ASE's
# Reallusion poselib motions but the one DiffMimic converted (its state file is that clip, reordered: tested).
DIFFMIMIC_CLIPS: dict[str, str] = {Path(rel).stem: rel for rel, _ in DIFFMIMIC_FILES}
REALLUSION_FOLDER = "motions/reallusion_sword_shield"
REALLUSION_CLIPS: dict[str, str] = {
    Path(rel).stem: rel
    for rel, _ in ASE_FILES
    if rel.startswith(REALLUSION_FOLDER + "/") and rel.endswith(".npy") and Path(rel).stem not in DIFFMIMIC_CLIPS
}
SHIPPED_CLIPS: dict[str, tuple[str, str]] = {
    **{name: ("diffmimic", rel) for name, rel in DIFFMIMIC_CLIPS.items()},
    **{name: ("ase", rel) for name, rel in REALLUSION_CLIPS.items()},
}
"""Clip name -> (source, relative path)."""


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise DataError(f"unknown data source '{name}': valid sources are {', '.join(SOURCES)}")
    return SOURCES[name]


def default_cache_dir(source: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mimicbench" / get_source(source).name


def resolve_source_dir(source: str) -> Path:
    """The source's folder: its environment variable (which must name an existing folder), else the fetch cache."""
    env_var = get_source(source).env_var
    if os.environ.get(env_var):
        path = Path(os.environ[env_var]).expanduser()
        if not path.is_dir():
            raise DataError(f"data dir {path} (from environment variable {env_var}) does not exist or is not a directory")
        return path
    return default_cache_dir(source)


def resolve_clip_file(name: str) -> Path:
    """The file of a shipped clip (``75_09_stageii``, ``RL_Avatar_Atk_Kick_Motion``), with what to do when it is
    missing."""
    source_name, relpath = SHIPPED_CLIPS[name]
    path = resolve_source_dir(source_name) / relpath
    if not path.is_file():
        source = SOURCES[source_name]
        raise DataError(
            f"{source.title} clip '{name}' not found: {path} is missing. Run "
            f"`{FETCH_COMMAND.format(source=source_name)}` ({source.title}'s data is under {source.licence}), or set "
            f"{source.env_var} to a folder holding {relpath}"
        )
    return path


def verify(source: str, root: str | os.PathLike[str] | None = None) -> list[str]:
    """Problems with the source's folder (missing files, wrong sha256); empty when every file is right."""
    folder = Path(root) if root is not None else resolve_source_dir(source)
    problems = []
    for f in get_source(source).files:
        path = folder / f.relpath
        if not path.is_file():
            problems.append(f"missing: {path}")
        elif (actual := sha256_file(path)) != f.sha256:
            problems.append(f"bad sha256: {path}: expected {f.sha256}, got {actual}")
    return problems


def fetch(
    source: str,
    dest: str | os.PathLike[str] | None = None,
    *,
    accept_licence: bool = False,
    force: bool = False,
    progress: Callable[[str], object] | None = print,
    opener: Opener | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Downloads every file of ``source`` from its pinned commit into ``dest`` (default: its cache folder), each
    checked against its sha256; files already right are kept unless ``force``. Refuses (DataError naming the
    licence) unless ``accept_licence``."""
    spec = get_source(source)
    if not accept_licence:
        raise DataError(
            f"the {spec.name} data ({spec.repo}) is licensed under {spec.licence}; "
            f"fetching it needs --accept-licence, which says you accept that licence"
        )
    root = Path(dest).expanduser() if dest is not None else default_cache_dir(source)
    open_url: Opener = opener if opener is not None else urllib.request.urlopen
    say = progress if progress is not None else (lambda _msg: None)
    hint = f"set {spec.env_var} to a local copy of its files (laid out as in SOURCE.md)"
    files = spec.files
    for i, f in enumerate(files, 1):
        target = root / f.relpath
        tag = f"[{i}/{len(files)}] {f.relpath}"
        if not force and target.is_file() and sha256_file(target) == f.sha256:
            say(f"{tag}: present, sha256 ok")
            continue
        download_file(f, target, open_url, timeout, local_copy_hint=hint)
        say(f"{tag}: downloaded, sha256 ok")
    say(f"{spec.name} data ready in {root} (licensed under {spec.licence})")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m envs.licensed_data {fetch,verify}``; returns a process exit code."""
    parser = argparse.ArgumentParser(prog="python -m envs.licensed_data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_fetch = sub.add_parser("fetch", help="download the pinned files and check their sha256")
    p_verify = sub.add_parser("verify", help="check that every file is present with the right sha256")
    for p in (p_fetch, p_verify):
        p.add_argument("--source", required=True, choices=sorted(SOURCES))
    p_fetch.add_argument("--dest", default=None, help="target folder (default: ~/.cache/mimicbench/<source>)")
    p_fetch.add_argument("--force", action="store_true", help="download files that are already present again")
    p_fetch.add_argument("--accept-licence", action="store_true", help="accept the source's non-commercial licence")
    p_verify.add_argument(
        "--data-dir", default=None, help="folder to check (default: the source's environment variable, else its cache)"
    )
    args = parser.parse_args(argv)
    try:
        if args.cmd == "fetch":
            fetch(args.source, args.dest, accept_licence=args.accept_licence, force=args.force)
            return 0
        problems = verify(args.source, args.data_dir)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"all {len(SOURCES[args.source].files)} {args.source} files present with the right sha256")
    return 0


if __name__ == "__main__":
    sys.exit(main())
