using System;
using PackageSmoke;

// Both members are generated: if the package's generator did not run, this does not compile.
Console.WriteLine("ParameterCount: " + SmokeNet.ParameterCount);
Console.WriteLine(SmokeNet.Summary());
